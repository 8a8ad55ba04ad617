#!/usr/bin/env python3
"""Builds examples/hello/image: a two-platform OCI image layout (linux/amd64,
linux/arm64) whose top layer holds /usr/local/bin/hello, statically linked, plus
a base layer with /etc/os-release and a symlink /usr/bin/hello -> ../local/bin/hello.

Needs musl-gcc (musl-tools) and aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu).
The layout is committed, so the README's first command needs neither."""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "image")
COMPILERS = {"amd64": ["musl-gcc"], "arm64": ["aarch64-linux-gnu-gcc"]}


def blob(media_type, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(OUT, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}


def layer(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload, mode in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.mode = 0, 0, 0, mode
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    tar_bytes = raw.getvalue()
    compressed = gzip.compress(tar_bytes, compresslevel=9, mtime=0)
    return tar_bytes, compressed


def image(arch, binary):
    base_tar, base_gz = layer([
        ("etc", "dir", None, 0o755),
        ("etc/os-release", "file", b"NAME=onebin-example\n", 0o644),
        ("usr", "dir", None, 0o755),
        ("usr/bin", "dir", None, 0o755),
        ("usr/bin/hello", "symlink", "../local/bin/hello", 0o777),
    ])
    app_tar, app_gz = layer([
        ("usr", "dir", None, 0o755),
        ("usr/local", "dir", None, 0o755),
        ("usr/local/bin", "dir", None, 0o755),
        ("usr/local/bin/hello", "file", binary, 0o755),
    ])
    config = {
        "created": "1970-01-01T00:00:00Z",
        "architecture": arch,
        "os": "linux",
        "config": {"Entrypoint": ["/usr/local/bin/hello"]},
        "rootfs": {"type": "layers", "diff_ids": [
            "sha256:" + hashlib.sha256(t).hexdigest() for t in (base_tar, app_tar)]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "make-image.py: base"},
                    {"created": "1970-01-01T00:00:00Z", "created_by": "make-image.py: hello"}],
    }
    if arch == "arm64":
        config["variant"] = "v8"
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blob("application/vnd.oci.image.config.v1+json", json.dumps(config, sort_keys=True).encode()),
        "layers": [blob("application/vnd.oci.image.layer.v1.tar+gzip", gz) for gz in (base_gz, app_gz)],
    }
    desc = blob("application/vnd.oci.image.manifest.v1+json", json.dumps(manifest, sort_keys=True).encode())
    desc["platform"] = {"os": "linux", "architecture": arch}
    if arch == "arm64":
        desc["platform"]["variant"] = "v8"
    return desc


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(os.path.join(OUT, "blobs", "sha256"))
    manifests = []
    for arch, cc in COMPILERS.items():
        exe = os.path.join(HERE, f"hello-{arch}")
        subprocess.run(cc + ["-static", "-Os", "-s", "-o", exe, os.path.join(HERE, "hello.c")], check=True)
        with open(exe, "rb") as f:
            manifests.append(image(arch, f.read()))
        os.remove(exe)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    root = blob("application/vnd.oci.image.index.v1+json", json.dumps(index, sort_keys=True).encode())
    root["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [root]}, f, sort_keys=True)
    with open(os.path.join(OUT, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


if __name__ == "__main__":
    main()
