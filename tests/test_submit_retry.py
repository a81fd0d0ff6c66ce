"""`polymix submit` right after `ray start`: the head answers before its job agent is up and refuses with "No
available agent" for a few seconds; the submission waits for the agent, and any other refusal is reported at once."""

import pytest

from ray_jobs import submit

NO_AGENT = RuntimeError("Request failed with status code 500: No available agent to submit job, please try again later.")


class Client:
    def __init__(self, failures):
        self.failures, self.calls = list(failures), 0

    def submit_job(self, **job):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "raysubmit_1"


def test_a_job_agent_still_starting_is_waited_for(monkeypatch, capsys):
    monkeypatch.setattr(submit.time, "sleep", lambda seconds: None)
    client = Client([NO_AGENT, NO_AGENT])
    assert submit._submit_when_an_agent_is_up(client, {"entrypoint": "x"}) == "raysubmit_1" and client.calls == 3
    assert capsys.readouterr().out.count("job agent is not up yet") == 1


def test_other_refusals_and_an_agent_that_never_comes_are_errors(monkeypatch):
    monkeypatch.setattr(submit.time, "sleep", lambda seconds: None)
    refused = Client([RuntimeError("Request failed with status code 401: Unauthorized")])
    with pytest.raises(RuntimeError, match="401"):
        submit._submit_when_an_agent_is_up(refused, {})
    assert refused.calls == 1
    monkeypatch.setattr(submit, "AGENT_WAIT_S", -1)  # the wait is over
    with pytest.raises(RuntimeError, match="No available agent"):
        submit._submit_when_an_agent_is_up(Client([NO_AGENT] * 3), {})
