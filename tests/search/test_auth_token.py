"""The token of a local Ray instance is written private to its owner, and a token the user gave is left alone."""

import stat

import pytest

from search.runs.cluster import private_auth_token


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def fresh_env(tmp_path, monkeypatch):
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_the_default_token_is_0600_in_a_folder_only_its_owner_lists(fresh_env):
    written = private_auth_token()
    assert written == fresh_env / "home" / ".ray" / "auth_token"
    assert mode(written) == 0o600 and mode(written.parent) == 0o700
    assert len(written.read_text()) == 64


def test_an_existing_ray_folder_is_made_private_and_an_empty_token_file_refilled(fresh_env):
    folder = fresh_env / "home" / ".ray"
    folder.mkdir(parents=True, mode=0o755)
    (folder / "auth_token").touch(mode=0o644)
    written = private_auth_token()
    assert mode(written) == 0o600 and mode(folder) == 0o700 and written.read_text()


def test_a_token_path_in_a_new_folder_gets_a_private_folder_and_an_existing_folder_is_left_as_it_is(fresh_env, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(fresh_env / "new" / "token"))
    assert mode(private_auth_token()) == 0o600 and mode(fresh_env / "new") == 0o700
    shared = fresh_env / "shared"
    shared.mkdir(mode=0o755)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(shared / "token"))
    assert mode(private_auth_token()) == 0o600 and mode(shared) == 0o755


def test_a_given_token_or_disabled_authentication_writes_nothing(fresh_env, monkeypatch):
    given = fresh_env / "given"
    given.write_text("the user's token")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(given))
    assert private_auth_token() is None and given.read_text() == "the user's token"
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "x" * 64)
    assert private_auth_token() is None
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    assert private_auth_token() is None and not (fresh_env / "home").exists()
