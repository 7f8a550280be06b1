"""Where every file of a dev cloud lives, under its one directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def default_dir() -> Path:
    """``<user data dir>/stacktap/devcloud``: never inside the user's own environment."""
    import platformdirs

    return Path(platformdirs.user_data_dir("stacktap", appauthor=False)) / "devcloud"


@dataclass(frozen=True)
class Layout:
    """Paths of one dev cloud; ``root`` is the ``--dir`` (made absolute)."""

    root: Path

    @classmethod
    def at(cls, directory: str | Path | None) -> Layout:
        # NOTE: resolved, because a running service is recognised by its working directory as
        # /proc shows it (symlinks resolved).
        return cls((Path(directory).expanduser() if directory else default_dir()).resolve())

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    @property
    def pip_log(self) -> Path:
        return self.logs / "pip.log"

    @property
    def bootstrap_log(self) -> Path:
        return self.logs / "bootstrap.log"

    def etc(self, service: str) -> Path:
        """The config dir of ``service`` (what ``OS_<SERVICE>_CONFIG_DIR`` points at)."""
        return self.root / "etc" / service

    def log(self, service: str) -> Path:
        return self.logs / (f"{service}.log")

    def sqlite_url(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name`` (absolute path: four slashes)."""
        return f"sqlite:///{self.data / (name + '.sqlite')}"

    def make_dirs(self) -> None:
        """Create the directory tree, private to the user (it holds the admin password)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        for path in (self.data, self.logs, self.run, self.root / "etc"):
            path.mkdir(exist_ok=True)
