"""The `crisis-triage` command line."""

# Each command module registers its commands on `app` when imported (one line per module).
from crisis_triage.cli import _adapt as _adapt  # adapt, learning-curve
from crisis_triage.cli import _admin as _admin  # users, apikeys
from crisis_triage.cli import _audit as _audit  # audit verify, export
from crisis_triage.cli import _backup as _backup  # db backup, restore, check-keys
from crisis_triage.cli import _encoder as _encoder  # encoder status, build-static
from crisis_triage.cli import _evaluate as _evaluate  # evaluate, compare, benchmark
from crisis_triage.cli import _lexicon as _lexicon  # lexicon list, test, validate
from crisis_triage.cli import _models as _models  # models list, add, promote, rollback, ...
from crisis_triage.cli import _paging as _paging  # paging add, list, remove, test
from crisis_triage.cli import _privacy as _privacy  # keys, retention, patients
from crisis_triage.cli import _reports as _reports  # report, export
from crisis_triage.cli import _scoring as _scoring  # score, explain
from crisis_triage.cli import _serve as _serve  # serve, db
from crisis_triage.cli import _simulate as _simulate  # simulate
from crisis_triage.cli import _sms as _sms  # sms senders
from crisis_triage.cli import _training as _training  # train, train-default
from crisis_triage.cli._app import app, main

__all__ = ["app", "main"]
