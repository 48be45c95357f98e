"""Local cache of downloaded versions, with a hash manifest, so a restart can serve while the registry is down."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from serving.registry_client import VersionRef
from tasks.model import BOOSTER_FILE, META_FILE, file_sha256, native_model_dir

MANIFEST = "xfmr-served.json"


@dataclass(frozen=True)
class CachedVersion:
    """A version found in the cache with its files intact."""

    ref: VersionRef
    folder: Path


class ModelCache:
    """`<root>/<model>/v<version>/` holds a downloaded MLflow model; `@<alias>.json` names the last one served."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def version_dir(self, name: str, version: str) -> Path:
        return self.root / name / f"v{version}"

    def remember(self, ref: VersionRef, model_dir: Path) -> None:
        """Record the hashes of a version that passed validation and mark it as the alias's last served."""
        native = native_model_dir(model_dir)
        manifest = {
            "ref": asdict(ref),
            "hashes": {f: file_sha256(native / f) for f in (BOOSTER_FILE, META_FILE)},
        }
        _write_atomic(model_dir / MANIFEST, manifest)
        _write_atomic(self.root / ref.name / f"@{ref.alias}.json", {"version": ref.version})

    def last_served(self, name: str, alias: str) -> CachedVersion | None:
        """Return the last version served under the alias if its files still match their recorded hashes."""
        pointer = self.root / name / f"@{alias}.json"
        if not pointer.is_file():
            return None
        version = str(json.loads(pointer.read_text())["version"])
        model_dir = self.version_dir(name, version)
        manifest_path = model_dir / MANIFEST
        if not manifest_path.is_file():
            return None
        manifest = json.loads(manifest_path.read_text())
        native = native_model_dir(model_dir)
        for file, digest in manifest["hashes"].items():
            if not (native / file).is_file() or file_sha256(native / file) != digest:
                raise ValueError(f"cached version {version}: {file} no longer matches its recorded SHA-256")
        return CachedVersion(VersionRef(**manifest["ref"]), model_dir)


def _write_atomic(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True))
    os.replace(tmp, path)
