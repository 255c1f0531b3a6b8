"""The add-on file, `labrunner/addons/<name>/addon.yaml`: what an add-on is, as data.

An add-on is something a plain cluster lacks and a lab needs (an Ingress controller, an admission
policy engine, an OpenID Connect issuer). Each lives in a folder of its own beside this module: the
add-on file, and the upstream manifests it pins, unchanged but for what the file's `from` says. The
same manifests are applied on kind (by `labrunner up`) and on any other cluster (`labrunner addons
install`, which `testbed/addon` calls once it has pushed the images it built). docs/lab-format.md
("Add-ons") describes the fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..errors import LabFormatError, Problem
from ..yamlfile import YamlError, read_yaml

ADDON_FILE = "addon.yaml"
HERE = Path(__file__).resolve().parent

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,40}$")]
K8sName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]
FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}\.ya?ml$")]
Version = Annotated[str, StringConstraints(pattern=r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+.][0-9A-Za-z.-]+)?$")]
ImageRef = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.:/_-]*:[A-Za-z0-9._-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManifestFile(_Strict):
    """One file of upstream manifests, applied whole, in the order the add-on lists them."""

    file: FileName = Field(description="a file in the add-on's folder")
    source: str = Field(min_length=1, description="where it comes from (release, path) and what was changed, "
                                                  "so a reviewer can fetch it again and compare")


class ReadyWhen(_Strict):
    """One object whose status condition says the add-on works: `up` waits for it, doctor reads it."""

    kind: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")
    name: K8sName
    namespace: K8sName | None = Field(None, description="absent for a cluster-scoped kind")
    apiVersion: str | None = Field(None, pattern=r"^([a-z0-9.-]+/)?v[0-9a-z]+$")
    condition: str = Field(pattern=r"^[A-Za-z]+$", description="a status condition type that must be True")
    timeout: float = Field(180, gt=0, le=600, description="seconds `up` waits for it")


class Service(_Strict):
    namespace: K8sName
    name: K8sName


class Entry(_Strict):
    """Where a learner's machine sends traffic into the add-on: the Service's load-balancer address,
    else the node's host ports (kind publishes them on 127.0.0.1, kind-config.yaml), at `ports`."""

    service: Service
    ports: dict[Annotated[str, StringConstraints(pattern=r"^(http|https)$")], Annotated[int, Field(ge=1, le=65535)]]


class TlsSecret(_Strict):
    """A serving certificate and the CA that signed it, made by `install` when the Secret is absent (and
    kept when present: whoever trusts the CA, e.g. the API server's authentication configuration, keeps
    working across re-installs). A `kubernetes.io/tls` Secret with `ca.crt` beside `tls.crt`/`tls.key`."""

    secret: Service = Field(description="the Secret's namespace and name")
    dnsNames: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]] = \
        Field(min_length=1)
    ipAddresses: list[Annotated[str, StringConstraints(pattern=r"^[0-9.]+$|^[0-9a-fA-F:]+$")]] = \
        Field(default_factory=list)


class ClaimMapping(_Strict):
    claim: str = Field(pattern=r"^[A-Za-z0-9_:.-]+$", description="the ID token's claim")
    prefix: str = Field(description="put before every value, so it cannot pass for another source's name")


class ProbeLogin(_Strict):
    """A login labrunner itself uses (the password grant), never one a lab's learner is told to use."""

    username: str = Field(min_length=1)
    password: str = Field(min_length=1)
    client: str = Field(min_length=1, description="a client whose id is one of `audiences`")
    clientSecret: str = Field(min_length=1)


class Issuer(_Strict):
    """An OpenID Connect issuer the API server must trust once the add-on is installed: one `jwt`
    entry of its AuthenticationConfiguration (apiserver.config.k8s.io/v1, Kubernetes 1.34), with the
    CA of the add-on's `tls` Secret (`addons/authn.py` writes it)."""

    url: str = Field(pattern=r"^https://", description="the issuer URL: the tokens' `iss`, reached by the API server")
    audiences: list[str] = Field(min_length=1, description="the `aud` values the API server accepts")
    username: ClaimMapping
    groups: ClaimMapping
    service: Service | None = Field(None, description="the issuer's Service, which labrunner reaches through the "
                                    "API server's service proxy (checks, doctor)")
    port: int = Field(443, ge=1, le=65535, description="the Service's HTTPS port")
    probe: ProbeLogin | None = Field(None, description="a user and client whose token shows the API server trusts "
                                     "the issuer (doctor, the `oidc` capability)")


class AddonSpec(_Strict):
    """An add-on file. `provides` are capability names (labrunner.capabilities.NAMES) that are present
    once every `ready` object is; a lab's `requires:` names those capabilities, never the add-on."""

    name: Name = Field(description="the add-on's name: its folder's name")
    title: str = Field(min_length=1, description="what it is, for doctor and the lab list")
    version: Version = Field(description="the upstream release the manifests and images pin")
    homepage: str = Field(pattern=r"^https://", description="the upstream project")
    provides: list[Name] = Field(min_length=1, description="capabilities it makes present")
    manifests: list[ManifestFile] = Field(min_length=1)
    images: list[ImageRef] = Field(default_factory=list, description="every image its manifests run, as they "
                                   "name it: `up` preloads them on kind, the testbed builds them")
    ready: list[ReadyWhen] = Field(min_length=1)
    entry: Entry | None = None
    tls: TlsSecret | None = None
    issuer: Issuer | None = Field(None, description="an OpenID Connect issuer the API server must trust; needs `tls`")


class Addon:
    """An add-on as read: its spec and its folder. Its manifests are parsed only when asked
    (`documents`): a megabyte of CRDs must not slow `doctor` or the lab list."""

    def __init__(self, spec: AddonSpec, folder: Path):
        self.spec = spec
        self.folder = folder

    @property
    def name(self) -> str:
        return self.spec.name

    def documents(self) -> list[tuple[str, dict]]:
        """(file name, object) for every object of the manifests, in apply order. These are
        labrunner's own files, so they are read with PyYAML's fast loader; a broken one raises
        LabFormatError naming the file (a bug of labrunner's, never the learner's)."""
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        found: list[tuple[str, dict]] = []
        for item in self.spec.manifests:
            where = f"addons/{self.name}/{item.file}"
            try:
                docs = list(yaml.load_all((self.folder / item.file).read_text(encoding="utf-8"), Loader=loader))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise LabFormatError([Problem(where, None, "", f"cannot read: {exc}")]) from None
            for doc in docs:
                if doc is None:
                    continue
                if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str) for k in ("apiVersion", "kind")) \
                        or not isinstance((doc.get("metadata") or {}).get("name"), str):
                    raise LabFormatError([Problem(where, None, "", "every document must be an object with "
                                                                   "apiVersion, kind and metadata.name")])
                found.append((item.file, doc))
        return found

    def __repr__(self) -> str:
        return f"Addon({self.spec.name} {self.spec.version})"


def read_addon(folder: Path) -> Addon:
    """The add-on in `folder` (its manifests not yet parsed). Raises LabFormatError naming the file,
    line and field, with what is expected."""
    shown = f"addons/{folder.name}/{ADDON_FILE}"
    try:
        data, lines = read_yaml(folder / ADDON_FILE, shown_as=shown)
    except YamlError as exc:
        raise LabFormatError([exc.problem]) from None
    try:
        spec = AddonSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
            problems.append(Problem(shown, line, ".".join(str(part) for part in loc), _message(error)))
        raise LabFormatError(problems) from None
    problems = []
    if spec.name != folder.name:
        problems.append(Problem(shown, lines.get(("name",)), "name", f"{spec.name!r} must be the folder's name, {folder.name!r}"))
    for index, item in enumerate(spec.manifests):
        if not (folder / item.file).is_file():
            problems.append(Problem(shown, lines.get(("manifests", index, "file")), f"manifests.{index}.file",
                                    f"no file {item.file} in addons/{folder.name}/"))
    if spec.issuer and not spec.tls:
        problems.append(Problem(shown, lines.get(("issuer",)), "issuer",
                                "an issuer needs `tls`: the API server trusts it through that Secret's CA"))
    if problems:
        raise LabFormatError(problems)
    return Addon(spec, folder)


def _message(error: dict) -> str:
    """Pydantic's message, with the value given and, for an unknown field, where the fields are listed."""
    if error["type"] == "extra_forbidden":
        return "unknown field; docs/lab-format.md (Add-ons) lists the fields"
    if error["type"] == "missing":
        return "required field is missing"
    given = error.get("input")
    return f"{error['msg']}, got {given!r}" if isinstance(given, (str, int, float)) else error["msg"]


_cache: dict[Path, dict[str, Addon]] = {}


def load_addons(root: Path = HERE) -> dict[str, Addon]:
    """Every add-on under `root` (default: the ones labrunner ships), by name; read once per process.
    Raises LabFormatError for a broken add-on (a bug of labrunner's, never the learner's)."""
    if root not in _cache:
        found = {}
        for folder in sorted(p for p in root.iterdir() if (p / ADDON_FILE).is_file()):
            addon = read_addon(folder)
            found[addon.name] = addon
        _cache[root] = found
    return _cache[root]


def addon_providing(capability: str, root: Path = HERE) -> Addon | None:
    """The add-on that makes `capability` present, or None when none does (it is the cluster's own)."""
    return next((a for a in load_addons(root).values() if capability in a.spec.provides), None)

