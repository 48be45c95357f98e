"""Stack fixtures: the docker-compose services as local processes over fresh PostgreSQL databases."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.stack.stack import Stack, running_stack, stack_env

_modules = itertools.count()
SESSION_TAG = secrets.token_hex(4)


@dataclass(frozen=True)
class ApiKey:
    """A client key for the scoring API and the hash the API is configured with."""

    key: str
    hash: str


@pytest.fixture(scope="session")
def api_key() -> ApiKey:
    from serving.auth import hash_key

    key = secrets.token_urlsafe(24)
    return ApiKey(key, hash_key(key))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, api_key: ApiKey) -> Iterator[Stack]:
    """A stack of its own for each test module: databases `xfmr_test_<tag>_*`, state in a temp folder.

    Nothing is started yet: call `stack.up("api")` (dependencies come up first, as with compose).
    """
    tag = f"{SESSION_TAG}_{next(_modules)}"
    with running_stack(tmp_path_factory.mktemp("stack"), stack_env(tag, api_key.hash, api_key.key), tag) as running:
        yield running
