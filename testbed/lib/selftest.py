"""testbed selftest: prove the live cluster behaves like a real one, one printed line per fact."""
from __future__ import annotations

import base64
import os
import json
import socket
import subprocess
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from config import Config

# A fresh namespace each run: CoreDNS caches answers for 30 s, so a rerun must not reuse names.
NS = f"testbed-selftest-{os.getpid()}"
NS_LABEL = "testbed.labrunner.dev/selftest"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.56"
# Every server in the self-test: agnhost's HTTP server on 8080, ready once it answers.
SERVER_SPEC = ("{terminationGracePeriodSeconds: 0, containers: [{name: main, image: " + AGNHOST
               + ", args: [netexec, --http-port=8080], readinessProbe: {httpGet: {path: /healthz, port: 8080},"
               " periodSeconds: 1}}]}")


class SelfTest:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.failures = 0
        self.kubectl_bin = str(cfg.binary("kubectl"))

    # --- plumbing -------------------------------------------------------------------------
    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                kubeconfig: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        kc = kubeconfig or self.cfg.paths.admin_kubeconfig
        res = subprocess.run([self.kubectl_bin, f"--kubeconfig={kc}", *args], input=input,
                             capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {res.stderr.strip()}")
        return res

    def apply(self, manifest: str) -> None:
        self.kubectl("apply", "--server-side", "--field-manager=testbed-selftest", "-f", "-", input=manifest)

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def fact(self, name: str, expected: str, seen: str) -> bool:
        ok = expected == seen
        self.failures += 0 if ok else 1
        print(f"{'PASS' if ok else 'FAIL'}  {name}: expected {expected}, saw {seen}", flush=True)
        return ok

    def eventually(self, fn, expected: str, timeout: float = 30) -> tuple[str, float]:
        """Poll fn until it returns expected (a policy takes a moment to be programmed)."""
        start = time.monotonic()
        seen = fn()
        while seen != expected and time.monotonic() - start < timeout:
            time.sleep(0.3)
            seen = fn()
        return seen, time.monotonic() - start

    def wait(self, *args: str, timeout: str = "120s") -> None:
        self.kubectl("-n", NS, "wait", *args, f"--timeout={timeout}")

    def pod_ip(self, name: str) -> str:
        return self.get("-n", NS, "pod", name)["status"]["podIP"]

    def probe(self, client: str, target: str) -> str:
        """TCP connect from inside a pod, 1 s timeout: CONNECTED, TIMEOUT or REFUSED (agnhost's words)."""
        res = self.kubectl("-n", NS, "exec", client, "--", "/agnhost", "connect", target, "--timeout=1s",
                           check=False)
        if res.returncode == 0:
            return "CONNECTED"
        return (res.stderr.strip().split(":")[0].split()[0] if res.stderr.strip() else "ERROR")

    def verdict(self, client: str, target: str) -> str:
        """allowed / blocked / not-listening. An enforcer may drop (TIMEOUT) or reject (REFUSED); the
        node itself is never subject to NetworkPolicy, so a connect from here tells 'blocked' from
        'nothing listening'."""
        seen = self.probe(client, target)
        if seen == "CONNECTED":
            return "allowed"
        host, port = target.rsplit(":", 1)
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return "blocked"
        except ConnectionRefusedError:
            return "not-listening"
        except OSError:
            return f"unreachable({seen})"

    def host_http(self, url: str) -> str:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return f"HTTP {resp.status}"
        except OSError as e:
            return f"error {e}"

    # --- facts ----------------------------------------------------------------------------
    def setup(self) -> None:
        self.kubectl("delete", "namespace", "-l", NS_LABEL, "--wait=false")  # earlier runs' leftovers
        self.kubectl("delete", "csr", "selftest-alice", "--ignore-not-found")
        self.kubectl("create", "namespace", NS)
        self.kubectl("label", "namespace", NS, f"{NS_LABEL}=true")
        pods = []
        for name, labels in (("server-a", "app: a"), ("server-b", "app: b"),
                             ("client-1", "role: client1"), ("client-2", "role: client2")):
            pods.append(f"""apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {NS}, labels: {{{labels}}}}}
spec: {SERVER_SPEC}
""")
        self.apply("---\n".join(pods) + f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {NS}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {SERVER_SPEC}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {NS}}}
spec: {{selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web-np, namespace: {NS}}}
spec: {{type: NodePort, selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web-lb, namespace: {NS}}}
spec: {{type: LoadBalancer, selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}]}}
""")

    def deployment(self) -> None:
        self.wait("--for=condition=Available", "deployment/web")
        ready = self.get("-n", NS, "deployment", "web")["status"].get("readyReplicas", 0)
        self.fact("Deployment pods run", "2 ready", f"{ready} ready")
        pods = [p["metadata"]["name"] for p in self.get("-n", NS, "pods", "-l", "app=web")["items"]]
        self.kubectl("-n", NS, "delete", "pod", pods[0], "--wait=false")

        def replaced() -> str:
            items = self.get("-n", NS, "pods", "-l", "app=web")["items"]
            fresh = [p for p in items if p["metadata"]["name"] not in pods
                     and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
            return "a new ready pod" if fresh else f"{len(items)} pods, none new and ready"
        seen, took = self.eventually(replaced, "a new ready pod", 60)
        self.fact(f"deleted pod replaced ({took:.1f}s)", "a new ready pod", seen)
        self.wait("--for=condition=Ready", "pod", "--all")

    def traffic(self) -> None:
        a = self.pod_ip("server-a")
        self.fact("pod-to-pod traffic", "CONNECTED", self.probe("client-1", f"{a}:8080"))
        svc = self.get("-n", NS, "service", "web")["spec"]["clusterIP"]
        self.fact("ClusterIP Service carries traffic", "CONNECTED", self.probe("client-1", f"{svc}:80"))
        np = self.get("-n", NS, "service", "web-np")["spec"]["ports"][0]["nodePort"]
        node_ip = self.cfg.net["node_ip"]
        self.fact(f"NodePort answers from the host at {node_ip}:{np}", "HTTP 200",
                  self.host_http(f"http://{node_ip}:{np}/hostname"))

        def lb_ip() -> str:
            ing = self.get("-n", NS, "service", "web-lb")["status"].get("loadBalancer", {}).get("ingress") or []
            return "assigned" if ing and ing[0].get("ip") else "none"
        seen, took = self.eventually(lb_ip, "assigned", 30)
        self.fact(f"LoadBalancer Service gets an address ({took:.1f}s)", "assigned", seen)
        if seen == "assigned":
            ip = self.get("-n", NS, "service", "web-lb")["status"]["loadBalancer"]["ingress"][0]["ip"]
            self.fact(f"LoadBalancer address {ip}:80 answers from the host", "HTTP 200",
                      self.host_http(f"http://{ip}/hostname"))

    def dns(self) -> None:
        svc_ip = self.get("-n", NS, "service", "web")["spec"]["clusterIP"]
        name = f"web.{NS}.svc.{self.cfg.net['cluster_domain']}"
        out = self.kubectl("-n", NS, "exec", "client-1", "--", "nslookup", name, check=False)
        answers = [l.split()[-1] for l in out.stdout.splitlines()[2:] if l.startswith("Address")]
        self.fact(f"{name} resolves from a pod", svc_ip, ",".join(answers) or out.stderr.strip()[:80])
        bad = f"no-such-service.{NS}.svc.{self.cfg.net['cluster_domain']}"
        out = self.kubectl("-n", NS, "exec", "client-1", "--", "nslookup", bad, check=False)
        text = out.stdout + out.stderr
        self.fact("an unknown name", "NXDOMAIN", "NXDOMAIN" if "NXDOMAIN" in text else text.strip()[:80])

    def table(self, pairs: dict[str, tuple[str, str]], expected: dict[str, str], label: str) -> None:
        """Probe every (client pod, ip:port) pair at once until all match expected (30 s at most),
        then print one fact per pair."""
        def all_seen() -> str:
            with ThreadPoolExecutor(len(pairs)) as pool:
                seen = dict(zip(pairs, pool.map(lambda kv: self.verdict(*kv), pairs.values())))
            return json.dumps(seen, sort_keys=True)
        want = json.dumps(expected, sort_keys=True)
        seen, took = self.eventually(all_seen, want, 30)
        got = json.loads(seen)
        for key in pairs:
            self.fact(f"netpol [{label}] {key}", expected[key], got[key])
        print(f"      ({label}: settled in {took:.1f}s)")

    def network_policy(self) -> None:
        a, b, c2 = (f"{self.pod_ip(p)}:8080" for p in ("server-a", "server-b", "client-2"))
        a_closed = a.replace(":8080", ":9999")
        table = self.table

        pairs = {"client-1 -> a": ("client-1", a), "client-1 -> b": ("client-1", b),
                 "client-2 -> a": ("client-2", a), "client-2 -> b": ("client-2", b),
                 "b -> client-2": ("server-b", c2), "client-1 -> a:9999 (no server)": ("client-1", a_closed)}
        table(pairs, {k: "allowed" for k in pairs} | {"client-1 -> a:9999 (no server)": "not-listening"},
              "no policy")
        self.apply(f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: deny-a, namespace: {NS}}}
spec: {{podSelector: {{matchLabels: {{app: a}}}}, policyTypes: [Ingress]}}
""")
        deny = {"client-1 -> a": "blocked", "client-1 -> b": "allowed", "client-2 -> a": "blocked",
                "client-2 -> b": "allowed", "b -> client-2": "allowed",
                "client-1 -> a:9999 (no server)": "not-listening"}
        table(pairs, deny, "default-deny ingress on a")
        self.apply(f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: allow-client1-to-a, namespace: {NS}}}
spec:
  podSelector: {{matchLabels: {{app: a}}}}
  policyTypes: [Ingress]
  ingress:
  - from: [{{podSelector: {{matchLabels: {{role: client1}}}}}}]
    ports: [{{port: 8080}}]
""")
        allow = dict(deny, **{"client-1 -> a": "allowed"})
        table(pairs, allow, "allow client1 to a:8080")
        self.apply(f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: deny-egress-client2, namespace: {NS}}}
spec: {{podSelector: {{matchLabels: {{role: client2}}}}, policyTypes: [Egress]}}
""")
        egress = dict(allow, **{"client-2 -> b": "blocked"})
        table(pairs, egress, "egress deny on client-2 (its inbound stays open)")

    def network_policy_both_types(self) -> None:
        """A policy with both policyTypes that allows all of one direction still isolates the other
        between the pods it selects, as the same intent written as two single-type policies does.
        kube-router v2.1.0 as released failed this (testbed/patches/kube-router-netpol-direction.patch)."""
        a, b, c2 = (f"{self.pod_ip(p)}:8080" for p in ("server-a", "server-b", "client-2"))
        # The node is never isolated: a connection to the API server shows the sender is free to send.
        node = f"{self.cfg.net['node_ip']}:6443"
        pairs = {"client-1 -> a": ("client-1", a), "client-2 -> b": ("client-2", b),
                 "b -> client-2": ("server-b", c2), "client-1 -> node": ("client-1", node)}
        open_all = {k: "allowed" for k in pairs}
        no_ingress = dict(open_all, **{"client-1 -> a": "blocked", "client-2 -> b": "blocked",
                                       "b -> client-2": "blocked"})
        no_egress = {k: "blocked" for k in pairs}
        # (what is enforced, the expected verdicts, the policies by name and spec); each selects every pod
        forms = [
            ("one policy: Ingress+Egress, egress [{}]", no_ingress,
             {"both-egress-open": "{podSelector: {}, policyTypes: [Ingress, Egress], egress: [{}]}"}),
            ("two policies: Ingress none, Egress [{}]", no_ingress,
             {"ingress-none": "{podSelector: {}, policyTypes: [Ingress]}",
              "egress-open": "{podSelector: {}, policyTypes: [Egress], egress: [{}]}"}),
            ("one policy: Ingress+Egress, ingress from the namespace", no_egress,
             {"both-ingress-ns": "{podSelector: {}, policyTypes: [Ingress, Egress],"
                                 " ingress: [{from: [{podSelector: {}}]}]}"}),
            # and both directions' rules of one policy still allow what they name
            ("one policy: Ingress+Egress, ingress from client-1, egress [{}]",
             dict(no_ingress, **{"client-1 -> a": "allowed"}),
             {"both-client1-in": "{podSelector: {}, policyTypes: [Ingress, Egress],"
                                 " ingress: [{from: [{podSelector: {matchLabels: {role: client1}}}]}], egress: [{}]}"}),
        ]
        self.kubectl("-n", NS, "delete", "networkpolicy", "--all")
        for label, expected, policies in forms:
            # From an open namespace each time, so a form's verdicts are never left over from the last.
            self.table(pairs, open_all, f"before {label}")
            self.apply("---\n".join(f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {name}, namespace: {NS}}}
spec: {spec}
""" for name, spec in policies.items()))
            self.table(pairs, expected, label)
            self.kubectl("-n", NS, "delete", "networkpolicy", "--all")

    def storage(self) -> None:
        self.apply(f"""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: {NS}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 64Mi}}}}
""")
        phase = self.get("-n", NS, "pvc", "data")["status"].get("phase")
        self.fact("PVC on the default class waits for a consumer", "Pending", str(phase))
        writer = f"""apiVersion: v1
kind: Pod
metadata: {{name: NAME, namespace: {NS}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: {AGNHOST}
    command: [sh, -c, "CMD"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: data}}}}]
"""
        self.apply(writer.replace("NAME", "writer").replace("CMD", "echo kept-$$(date +%s) > /data/f && sleep 3600"))
        self.wait("--for=condition=Ready", "pod/writer", timeout="120s")
        pvc = self.get("-n", NS, "pvc", "data")
        self.fact("PVC binds once a pod uses it", "Bound", str(pvc["status"].get("phase")))
        sc = pvc["spec"].get("storageClassName")
        self.fact("PVC got the default StorageClass", "standard", str(sc))
        written = self.kubectl("-n", NS, "exec", "writer", "--", "cat", "/data/f").stdout.strip()
        self.kubectl("-n", NS, "delete", "pod", "writer", "--wait=true")
        self.apply(writer.replace("NAME", "reader").replace("CMD", "sleep 3600"))
        self.wait("--for=condition=Ready", "pod/reader", timeout="120s")
        read = self.kubectl("-n", NS, "exec", "reader", "--", "cat", "/data/f").stdout.strip()
        self.fact("data survives the pod's replacement", written, read)

    def csr(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            key, req = Path(tmp) / "alice.key", Path(tmp) / "alice.csr"
            subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-out", str(key)], check=True, capture_output=True)
            subprocess.run(["openssl", "req", "-new", "-key", str(key), "-subj", "/O=selftest-devs/CN=alice",
                            "-out", str(req)], check=True, capture_output=True)
            self.apply(f"""apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {{name: selftest-alice}}
spec:
  request: {base64.b64encode(req.read_bytes()).decode()}
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 3600
  usages: [client auth]
""")
            self.kubectl("certificate", "approve", "selftest-alice")

            def issued() -> str:
                st = self.get("csr", "selftest-alice")["status"]
                return "issued" if st.get("certificate") else "waiting"
            seen, took = self.eventually(issued, "issued", 30)
            self.fact(f"CSR approved and issued by the cluster signer ({took:.1f}s)", "issued", seen)
            cert = base64.b64decode(self.get("csr", "selftest-alice")["status"]["certificate"])
            admin = self.cfg.paths.admin_kubeconfig.read_text()
            ca = next(l.split(": ", 1)[1] for l in admin.splitlines() if "certificate-authority-data" in l)
            kc = Path(tmp) / "alice.kubeconfig"
            kc.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: testbed, cluster: {{server: "https://{self.cfg.net['node_ip']}:6443", certificate-authority-data: {ca}}}}}]
users: [{{name: alice, user: {{client-certificate-data: {base64.b64encode(cert).decode()}, client-key-data: {base64.b64encode(key.read_bytes()).decode()}}}}}]
contexts: [{{name: alice, context: {{cluster: testbed, user: alice}}}}]
current-context: alice
""")
            who = json.loads(self.kubectl("auth", "whoami", "-o", "json", kubeconfig=kc).stdout)
            info = who["status"]["userInfo"]
            self.fact("the API server sees the certificate as", "alice in selftest-devs",
                      f"{info.get('username')} in {','.join(g for g in info.get('groups', []) if g.startswith('selftest'))}")
            res = self.kubectl("-n", NS, "get", "pods", kubeconfig=kc, check=False)
            self.fact("alice before a RoleBinding", "Forbidden",
                      "Forbidden" if "forbidden" in res.stderr.lower() else f"exit {res.returncode}")
            self.kubectl("-n", NS, "create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice")

            def allowed() -> str:
                r = self.kubectl("-n", NS, "get", "pods", kubeconfig=kc, check=False)
                return "allowed" if r.returncode == 0 else "Forbidden"
            seen, _ = self.eventually(allowed, "allowed", 10)
            self.fact("alice after a RoleBinding to view", "allowed", seen)
            res = self.kubectl("-n", NS, "delete", "pod", "client-1", "--dry-run=server", kubeconfig=kc, check=False)
            self.fact("alice may not delete (view only)", "Forbidden",
                      "Forbidden" if "forbidden" in res.stderr.lower() else f"exit {res.returncode}")

    def cleanup(self) -> None:
        self.kubectl("delete", "namespace", NS, "--wait=false", check=False)
        self.kubectl("delete", "csr", "selftest-alice", "--ignore-not-found", check=False)


def selftest(cfg: Config) -> int:
    if not cfg.paths.admin_kubeconfig.exists():
        print("FAIL  cluster: expected a running testbed, saw none (run testbed/up first)")
        return 1
    t = SelfTest(cfg)
    started = time.monotonic()
    try:
        t.setup()
        t.wait("--for=condition=Ready", "pod", "server-a", "server-b", "client-1", "client-2")
        for step in (t.deployment, t.traffic, t.dns, t.network_policy, t.network_policy_both_types,
                     t.storage, t.csr):
            try:
                step()
            except (RuntimeError, subprocess.TimeoutExpired, KeyError) as e:
                t.fact(step.__name__, "no error", f"error: {e}")
    finally:
        t.cleanup()
    print(f"{'FAILED' if t.failures else 'OK'}: {t.failures} mismatches in {time.monotonic() - started:.0f}s")
    return 1 if t.failures else 0
