"""The cluster's certificates and kubeconfigs, made with openssl: one CA signs every identity."""
from __future__ import annotations

import base64
import subprocess
import tempfile
from pathlib import Path

from config import Config


def _openssl(*args: str, stdin: str | None = None) -> None:
    subprocess.run(["openssl", *args], input=stdin, text=True, check=True, capture_output=True)


def _key(path: Path) -> None:
    if not path.exists():
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))
        path.chmod(0o600)


def _ca(pki: Path, name: str, cn: str) -> None:
    key, crt = pki / f"{name}.key", pki / f"{name}.crt"
    if crt.exists():
        return
    _key(key)
    _openssl("req", "-x509", "-new", "-key", str(key), "-subj", f"/CN={cn}", "-days", "3650",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", "-out", str(crt))


def issue(pki: Path, name: str, subject: str, *, server_sans: list[str] | None = None,
          ca: str = "ca") -> None:
    """A leaf certificate: a client one, or a serving one when server_sans is given."""
    key, crt = pki / f"{name}.key", pki / f"{name}.crt"
    if crt.exists():
        return
    _key(key)
    ext = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment"]
    if server_sans:
        ext.append("extendedKeyUsage=serverAuth")
        ext.append("subjectAltName=" + ",".join(
            f"IP:{s}" if s.replace(".", "").isdigit() else f"DNS:{s}" for s in server_sans))
    else:
        ext.append("extendedKeyUsage=clientAuth")
    with tempfile.TemporaryDirectory() as tmp:
        csr, extfile = Path(tmp) / "req.csr", Path(tmp) / "ext.cnf"
        extfile.write_text("\n".join(ext) + "\n")
        _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(pki / f"{ca}.crt"),
                 "-CAkey", str(pki / f"{ca}.key"), "-CAcreateserial", "-days", "825",
                 "-extfile", str(extfile), "-out", str(crt))


def kubeconfig(cfg: Config, path: Path, cert: str, server: str | None = None) -> None:
    pki = cfg.paths.pki
    b64 = lambda p: base64.b64encode(p.read_bytes()).decode()  # noqa: E731
    server = server or f"https://{cfg.net['node_ip']}:6443"
    text = f"""apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: {server}
    certificate-authority-data: {b64(pki / 'ca.crt')}
users:
- name: {cert}
  user:
    client-certificate-data: {b64(pki / f'{cert}.crt')}
    client-key-data: {b64(pki / f'{cert}.key')}
contexts:
- name: testbed
  context: {{cluster: testbed, user: {cert}}}
current-context: testbed
"""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)


def make_pki(cfg: Config) -> None:
    pki = cfg.paths.pki
    pki.mkdir(parents=True, exist_ok=True)
    net = cfg.net
    _ca(pki, "ca", "kubernetes")
    _ca(pki, "front-proxy-ca", "front-proxy-ca")
    domain = net["cluster_domain"]
    issue(pki, "apiserver", "/CN=kube-apiserver", server_sans=[
        net["node_ip"], net["api_service_ip"], "127.0.0.1", "localhost", net["node_name"],
        "kubernetes", "kubernetes.default", "kubernetes.default.svc", f"kubernetes.default.svc.{domain}"])
    issue(pki, "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client")
    issue(pki, "front-proxy-client", "/CN=front-proxy-client", ca="front-proxy-ca")
    issue(pki, "admin", "/O=system:masters/CN=kubernetes-admin")
    issue(pki, "kube-controller-manager", "/CN=system:kube-controller-manager")
    issue(pki, "kube-scheduler", "/CN=system:kube-scheduler")
    issue(pki, "kube-proxy", "/CN=system:kube-proxy")
    issue(pki, "kubelet", f"/O=system:nodes/CN=system:node:{net['node_name']}")
    if not (pki / "sa.key").exists():
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pki / "sa.key"))
        _openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    state = cfg.paths.state
    for who in ("admin", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubelet"):
        kubeconfig(cfg, state / f"{who}.kubeconfig", who)
