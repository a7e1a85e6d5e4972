"""The lab's images: rebuilt only when their folder under images/ (or a
file every image is given) changed."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab.engine import client, package_cache
from lab.engine.process import run_logged
from lab.model.config import REPO

# Put at the top of every image's build context: a class lab's containers
# set their lab address with it before their daemons start (compose/class.yml),
# from the image, so that no container mounts anything of this machine.
SHARED = (REPO / "compose" / "lab-address",)


def context_digest(folder: Path) -> str:
    """A digest of an image's build context: rebuild only when it changed."""
    h = hashlib.sha256()
    files = [(str(p.relative_to(folder)), p) for p in folder.rglob("*") if p.is_file()]
    for name, path in sorted(files) + [(p.name, p) for p in SHARED]:
        h.update(name.encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build_context(folder: Path, into: Path) -> Path:
    """The image's folder with the SHARED files beside its Dockerfile, in `into`."""
    context = into / folder.name
    shutil.copytree(folder, context, symlinks=True)
    for path in SHARED:
        shutil.copy2(path, context / path.name)
    return context


def image_digest_label(image: str) -> str | None:
    """The build-context digest an image was built from; None if the image is
    not there ("" if it carries no such label)."""
    data = client.inspect_image(image)
    if data is None:
        return None
    labels = (data.get("Config") or {}).get("Labels") or {}
    return str(labels.get("org.foolab.context", ""))


def docker_build(folder: Path, image: str, digest: str, log: Path, no_cache: bool,
                 packages: str | None = None) -> None:
    """`docker build` of one image's context, labelled with its digest; the
    output to `log` (a failure: LabError with its last lines). `packages`:
    the shared package cache's proxy (lab.engine.package_cache), on this
    machine's loopback, so the build runs on the host's network."""
    through = ["--network", "host", "--build-arg", f"http_proxy={packages}"] if packages else []
    with tempfile.TemporaryDirectory(prefix="foolab-build-") as tmp:
        run_logged(["docker", "build", *(["--no-cache"] if no_cache else []), *through,
                    "-t", image,
                    "--label", f"org.foolab.context={digest}",
                    str(build_context(folder, Path(tmp)))],
                   log, f"building {image}", timeout=900)


def build_side_by_side(builds: dict[str, Callable[[str | None], float | None]],
                       progress: Callable[[str], None]) -> dict[str, float]:
    """Run each image's build at once (they mostly wait on downloads and
    unpacking), all through one package cache: what two images share is
    fetched once. `builds`: image -> build(package cache proxy), which
    returns its seconds, or None when the image was up to date."""
    with package_cache.serving() as (proxy, cache), \
            ThreadPoolExecutor(max_workers=max(1, len(builds))) as pool:
        took = {name: pool.submit(build, proxy) for name, build in builds.items()}
        built = {name: seconds for name, job in took.items()
                 if (seconds := job.result()) is not None}
    if cache.served:
        progress(f"package cache: {cache.fetched} files fetched, "
                 f"{cache.served - cache.fetched} more served from it")
    return built
