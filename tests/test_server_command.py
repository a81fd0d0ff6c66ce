"""`polymix server`'s command line: the database password stays in the environment and out of argv and output."""

from pathlib import Path

from ray_jobs import server
from ray_jobs.cli import main
from search.tracking import redact_uri

SECRET_URI = "postgresql://mlflow:s3cr3t-pw@db.internal:5432/mlflow"


def test_backend_connection_is_passed_by_environment_only(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI", SECRET_URI)
    command, env, backend = server.server_command(tmp_path, "127.0.0.1", 5001, None, ["--workers", "2"])
    assert backend == SECRET_URI and env["MLFLOW_BACKEND_STORE_URI"] == SECRET_URI
    assert not any("s3cr3t" in part for part in command)
    assert command[1:6] == ["server", "--host", "127.0.0.1", "--port", "5001"] and command[-2:] == ["--workers", "2"]
    assert command[command.index("--artifacts-destination") + 1] == str((tmp_path / "mlflow-artifacts").resolve())
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert redact_uri(SECRET_URI) == "postgresql://mlflow:***@db.internal:5432/mlflow"
    assert redact_uri("sqlite:////srv/mlflow.db") == "sqlite:////srv/mlflow.db"


def test_cli_binds_localhost_and_prints_the_backend_masked(monkeypatch, tmp_path, capsys):
    started = {}
    monkeypatch.setattr(server.os, "execve", lambda path, argv, env: started.update(argv=argv, env=env))
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI", SECRET_URI)
    main(["--workdir", str(tmp_path), "server", "--", "--workers", "2"])
    printed = capsys.readouterr().out
    assert "s3cr3t" not in printed and "backend postgresql://mlflow:***@db.internal" in printed
    assert started["argv"][2:6] == ["--host", "127.0.0.1", "--port", "5000"] and started["argv"][-2:] == ["--workers", "2"]
    assert started["env"]["MLFLOW_BACKEND_STORE_URI"] == SECRET_URI


def test_default_backend_is_the_store_polymix_run_uses_in_the_workdir(monkeypatch, tmp_path):
    from search.tracking import default_tracking_uri

    monkeypatch.delenv("MLFLOW_BACKEND_STORE_URI", raising=False)
    _, env, backend = server.server_command(Path(tmp_path), "127.0.0.1", 5000, None, [])
    assert backend == env["MLFLOW_BACKEND_STORE_URI"] == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"
    assert backend == default_tracking_uri(tmp_path)


def test_a_password_in_the_study_tracking_uri_is_masked_in_the_logged_study():
    from search.study import load_study
    from search.tracking import study_document, study_params

    study = load_study(Path(__file__).resolve().parents[1] / "configs/smoke.yaml", [f"tracking.uri={SECRET_URI}"])
    assert study_document(study)["tracking"]["uri"] == "postgresql://mlflow:***@db.internal:5432/mlflow"
    assert "db.internal:5432" in study_params(study)["study.tracking"] and "s3cr3t-pw" not in study_params(study)["study.tracking"]
