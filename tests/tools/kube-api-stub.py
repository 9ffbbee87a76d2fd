#!/usr/bin/env python3
"""A Kubernetes API stand-in for the reconciler's kubernetes command test.

It serves just enough of the API for the kubectl calls the reconciler makes
(discovery, an OpenAPI v2 document of PATCH operations only, GET/LIST with label and field selectors,
PATCH as server-side apply, JSON merge patch, DELETE) and records every
request, one JSON object a line, so the test can hold kubectl's requests to
the contract: content type, field manager, force, dry run, label selector.

Server-side apply is modelled, not reimplemented: an apply merges the
applied object into the live one, drops the fields the same manager applied
before and applies no more, and records the manager in managedFields. There
are no controllers: a workload's status is whatever a test PATCHes into its
/status subresource (nothing else writes it), as on an API server with no
controller manager.

    kube-api-stub.py PORT_FILE LOG_FILE
"""
import copy
import datetime
import json
import sys
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# group, version, plural, singular, kind, namespaced, short names
RESOURCES = [
    ("", "v1", "configmaps", "configmap", "ConfigMap", True, ["cm"]),
    ("", "v1", "secrets", "secret", "Secret", True, []),
    ("", "v1", "services", "service", "Service", True, ["svc"]),
    ("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ["sa"]),
    ("", "v1", "pods", "pod", "Pod", True, ["po"]),
    ("", "v1", "endpoints", "endpoints", "Endpoints", True, ["ep"]),
    ("", "v1", "persistentvolumeclaims", "persistentvolumeclaim",
     "PersistentVolumeClaim", True, ["pvc"]),
    ("", "v1", "replicationcontrollers", "replicationcontroller",
     "ReplicationController", True, ["rc"]),
    ("", "v1", "namespaces", "namespace", "Namespace", False, ["ns"]),
    ("apps", "v1", "deployments", "deployment", "Deployment", True, ["deploy"]),
    ("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, ["sts"]),
    ("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, ["ds"]),
    ("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, ["rs"]),
    ("batch", "v1", "jobs", "job", "Job", True, []),
    ("batch", "v1", "cronjobs", "cronjob", "CronJob", True, ["cj"]),
    ("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True, ["ing"]),
]
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]



def pb_varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def pb(field, value):
    """One length-delimited protobuf field (strings and messages)."""
    if isinstance(value, str):
        value = value.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(value)) + value


def openapi_v2():
    """The OpenAPI v2 document kubectl reads, as protobuf (gnostic's
    OpenAPIv2.proto): no schemas, so kubectl validates nothing client-side
    (as for a kind it has no schema for), and for every kind a PATCH
    operation that takes dryRun, which kubectl 1.20 looks for before it
    runs `kubectl diff` (its dry-run verifier)."""
    paths = b""
    for g, v, plural, singular, kind, namespaced, short in RESOURCES:
        base = "/api/v1" if not g else "/apis/%s/%s" % (g, v)
        name = base + ("/namespaces/{namespace}" if namespaced else "") + "/%s/{name}" % plural
        params = b"".join(
            pb(8, pb(1, pb(2, pb(3, pb(2, "query") + pb(4, q) + pb(6, "string")))))
            for q in ("dryRun", "fieldManager", "force"))
        gvk = pb(13, pb(1, "x-kubernetes-group-version-kind") +
                 pb(2, pb(2, "group: %s\nkind: %s\nversion: %s\n" % (g or '""', kind, v))))
        paths += pb(2, pb(1, name) + pb(2, pb(8, params + gvk)))
    return pb(1, "2.0") + pb(2, pb(1, "Kubernetes") + pb(2, "v1.20.2")) + pb(8, paths)


OPENAPI_V2 = openapi_v2()
lock = threading.Lock()
objects = {}        # (group, plural, namespace, name) -> object
applied = {}        # (group, plural, namespace, name, manager) -> last applied object
counter = [1]
log_file = None


def now():
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


def gv(group, version):
    return version if not group else group + "/" + version


def status(code, reason, message, details=None):
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                  "status": "Failure" if code >= 400 else "Success",
                  "reason": reason, "message": message, "code": code,
                  "details": details or {}}


def merge(live, patch):
    """RFC 7386 JSON merge patch (null deletes)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(live) if isinstance(live, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def drop(live, before, after):
    """Remove from `live` the fields `before` set that `after` no longer sets."""
    if not isinstance(before, dict) or not isinstance(live, dict):
        return
    for k, v in before.items():
        if k not in live:
            continue
        if not isinstance(after, dict) or k not in after:
            del live[k]
        elif isinstance(v, dict):
            drop(live[k], v, after[k])


def fields_v1(obj):
    """The managed-field set of an applied object, in FieldsV1 form."""
    if not isinstance(obj, dict):
        return {}
    return {"f:" + k: fields_v1(v) for k, v in obj.items() if k not in ("apiVersion", "kind")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self, parsed, body_obj):
        q = urllib.parse.parse_qs(parsed.query)
        entry = {"method": self.command, "path": parsed.path,
                 "query": {k: v[0] for k, v in sorted(q.items())},
                 "contentType": self.headers.get("Content-Type"),
                 "userAgent": (self.headers.get("User-Agent") or "").split(" ")[0]}
        if isinstance(body_obj, dict):
            entry["bodyKind"] = body_obj.get("kind")
            entry["bodyLabels"] = body_obj.get("metadata", {}).get("labels")
        with lock:
            log_file.write(json.dumps(entry, sort_keys=True) + "\n")
            log_file.flush()

    def reply(self, code, obj, ctype="application/json"):
        if isinstance(obj, bytes):
            data, ctype = obj, "application/octet-stream"
        else:
            data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        parsed = urllib.parse.urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        body_obj = None
        if body:
            try:
                body_obj = json.loads(body)
            except ValueError:
                body_obj = None
        self.record(parsed, body_obj)
        code, obj = self.route(parsed, body_obj, body)
        self.reply(code, obj)

    do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = handle_any

    def route(self, parsed, body_obj, body):
        path = parsed.path.rstrip("/")
        q = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        parts = [p for p in path.split("/") if p]
        if path == "/version":
            return 200, {"major": "1", "minor": "20", "gitVersion": "v1.20.2",
                         "platform": "linux/amd64"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups = sorted({(g, v) for g, v, *_ in RESOURCES if g})
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": gv(g, v), "version": v}],
                 "preferredVersion": {"groupVersion": gv(g, v), "version": v}}
                for g, v in groups]}
        if path == "/openapi/v2":
            return 200, OPENAPI_V2
        if path in ("/api/v1",) or (len(parts) == 3 and parts[0] == "apis"):
            group = "" if parts[0] == "api" else parts[1]
            version = parts[-1]
            res = [r for r in RESOURCES if r[0] == group and r[1] == version]
            if not res:
                return status(404, "NotFound", "the server could not find the requested resource")
            out = []
            for g, v, plural, singular, kind, namespaced, short in res:
                out.append({"name": plural, "singularName": singular, "namespaced": namespaced,
                            "kind": kind, "verbs": VERBS, "shortNames": short})
                if kind in WORKLOADS:
                    out.append({"name": plural + "/status", "singularName": "",
                                "namespaced": True, "kind": kind,
                                "verbs": ["get", "patch", "update"]})
            return 200, {"kind": "APIResourceList", "apiVersion": "v1",
                         "groupVersion": gv(group, version), "resources": out}
        return self.resource(parts, q, body_obj)

    def resource(self, parts, q, body_obj):
        # /api/v1/... or /apis/G/V/...; then [namespaces/NS/]PLURAL[/NAME[/status]]
        if parts and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return status(404, "NotFound", "the server could not find the requested resource")
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest:
            return status(404, "NotFound", "the server could not find the requested resource")
        res = [r for r in RESOURCES if r[0] == group and r[1] == version and r[2] == rest[0]]
        if not res:
            return status(404, "NotFound", "the server could not find the requested resource")
        g, v, plural, singular, kind, namespaced, short = res[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        with lock:
            if name is None:
                if self.command == "GET":
                    return self.list(group, version, plural, kind, ns, q)
                if self.command == "POST":
                    return self.apply(group, version, plural, kind, ns,
                                      (body_obj or {}).get("metadata", {}).get("name"),
                                      body_obj, q, create=True)
                return status(405, "MethodNotAllowed", "not allowed")
            key = (group, plural, ns or "", name)
            if self.command == "GET":
                if key not in objects:
                    return status(404, "NotFound", '%s "%s" not found' % (plural, name),
                                  {"name": name, "kind": plural})
                return 200, objects[key]
            if self.command == "DELETE":
                if key not in objects:
                    return status(404, "NotFound", '%s "%s" not found' % (plural, name),
                                  {"name": name, "kind": plural})
                gone = objects.pop(key)
                for k in [k for k in applied if k[:4] == key]:
                    del applied[k]
                return 200, gone
            if self.command == "PATCH":
                ctype = (self.headers.get("Content-Type") or "").split(";")[0]
                if ctype == "application/apply-patch+yaml" and sub is None:
                    return self.apply(group, version, plural, kind, ns, name, body_obj, q)
                if ctype in ("application/merge-patch+json",
                             "application/strategic-merge-patch+json"):
                    if key not in objects:
                        return status(404, "NotFound", '%s "%s" not found' % (plural, name),
                                      {"name": name, "kind": plural})
                    obj = objects[key]
                    if sub == "status":
                        obj["status"] = merge(obj.get("status"), (body_obj or {}).get("status"))
                    else:
                        spec = copy.deepcopy(obj.get("spec"))
                        new = merge(obj, body_obj or {})
                        new["metadata"]["managedFields"] = obj["metadata"].get(
                            "managedFields", []) + [{
                                "manager": q.get("fieldManager", "kubectl-edit"),
                                "operation": "Update", "apiVersion": gv(group, version),
                                "time": now(), "fieldsType": "FieldsV1",
                                "fieldsV1": fields_v1(body_obj)}]
                        if new.get("spec") != spec:
                            new["metadata"]["generation"] = obj["metadata"].get(
                                "generation", 1) + 1
                        obj = new
                    counter[0] += 1
                    obj["metadata"]["resourceVersion"] = str(counter[0])
                    objects[key] = obj
                    return 200, obj
                return status(415, "UnsupportedMediaType",
                              "the body of the request was in an unknown format")
        return status(405, "MethodNotAllowed", "not allowed")

    def list(self, group, version, plural, kind, ns, q):
        want = {}
        for term in filter(None, (q.get("labelSelector") or "").split(",")):
            k, _, v = term.partition("=")
            want[k] = v.lstrip("=")
        names = {}
        for term in filter(None, (q.get("fieldSelector") or "").split(",")):
            k, _, v = term.partition("=")
            names[k] = v.lstrip("=")
        items = []
        for (g, p, n, name), obj in sorted(objects.items()):
            if g != group or p != plural or (ns and n != ns):
                continue
            labels = obj["metadata"].get("labels") or {}
            if any(labels.get(k) != v for k, v in want.items()):
                continue
            if "metadata.name" in names and names["metadata.name"] != name:
                continue
            items.append(obj)
        return 200, {"kind": kind + "List", "apiVersion": gv(group, version),
                     "metadata": {"resourceVersion": str(counter[0])}, "items": items}

    def apply(self, group, version, plural, kind, ns, name, body_obj, q, create=False):
        if not isinstance(body_obj, dict) or body_obj.get("kind") != kind:
            return status(400, "BadRequest", "the body is not a %s" % kind)
        manager = q.get("fieldManager")
        if not create and not manager:
            return status(400, "BadRequest", "PATCH with apply-patch+yaml needs a fieldManager")
        key = (group, plural, ns or "", name)
        live = objects.get(key)
        if create and live:
            return status(409, "AlreadyExists", '%s "%s" already exists' % (plural, name))
        before = applied.get(key + (manager,))
        obj = copy.deepcopy(live) if live else {}
        drop(obj, before, body_obj)
        obj = merge(obj, body_obj)
        meta = obj.setdefault("metadata", {})
        meta["name"] = name
        if ns:
            meta["namespace"] = ns
        if live:
            meta["uid"] = live["metadata"]["uid"]
            meta["creationTimestamp"] = live["metadata"]["creationTimestamp"]
            gen = live["metadata"].get("generation", 1)
            meta["generation"] = gen + 1 if obj.get("spec") != live.get("spec") else gen
        else:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            meta["generation"] = 1
        others = [m for m in (live or {}).get("metadata", {}).get("managedFields", [])
                  if m.get("manager") != manager or m.get("operation") != "Apply"]
        if q.get("force") != "true" and live:
            # a field another manager set to another value is a conflict
            for m in others:
                for f in m.get("fieldsV1", {}).get("f:data", {}):
                    k = f[2:]
                    if k in (body_obj.get("data") or {}) and \
                            body_obj["data"][k] != live.get("data", {}).get(k):
                        return status(409, "Conflict", "Apply failed with 1 conflict: "
                                      "conflict with \"%s\": .data.%s" % (m["manager"], k))
        meta["managedFields"] = others + [{
            "manager": manager or "kubectl-create",
            "operation": "Apply" if not create else "Update",
            "apiVersion": gv(group, version), "time": now(), "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(body_obj)}]
        if kind == "Deployment":
            obj.setdefault("spec", {}).setdefault("replicas", 1)
        if q.get("dryRun") == "All":
            meta["resourceVersion"] = live["metadata"]["resourceVersion"] if live else ""
            return (200 if live else 201), obj
        counter[0] += 1
        meta["resourceVersion"] = str(counter[0])
        objects[key] = obj
        if not create:
            applied[key + (manager,)] = copy.deepcopy(body_obj)
        return (200 if live else 201), obj


def main():
    global log_file
    port_file, log_path = sys.argv[1], sys.argv[2]
    log_file = open(log_path, "a")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
