#!/usr/bin/env python3
"""An OCI image layout of N tiny images, for the scale benchmark and the
tests of incremental bindings.

usage: many-images.py OUT N [CHANGED ...]

Each image i has its own config, one 1-file tar layer ("image i") and a
manifest, tagged "i<i>" in index.json. Each CHANGED index gets other
content ("image i, changed"), so that a layout made with it differs from
one made without it in exactly those images. Written directly, with no
registry tools.
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    changed = {int(a) for a in sys.argv[3:]}
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs)

    def put(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + h, "size": len(data)}

    manifests = []
    for i in range(n):
        body = ("image %d%s\n" % (i, ", changed" if i in changed else "")).encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
            info = tarfile.TarInfo("data/id")
            info.size, info.mtime = len(body), 0
            t.addfile(info, io.BytesIO(body))
        layer = buf.getvalue()[:2048]   # header, data, end blocks; no record padding
        ldesc = put(layer)
        ldesc["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [ldesc["digest"]]},
                             "config": {"Cmd": ["/bin/true"]}}).encode()
        cdesc = put(config)
        cdesc["mediaType"] = "application/vnd.oci.image.config.v1+json"
        man = json.dumps({"schemaVersion": 2,
                          "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": cdesc, "layers": [ldesc]}).encode()
        mdesc = put(man)
        mdesc["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
        mdesc["annotations"] = {"org.opencontainers.image.ref.name": "i%d" % i}
        manifests.append(mdesc)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": manifests}, f)


if __name__ == "__main__":
    main()
