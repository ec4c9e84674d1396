"""Jobs: what a batch runs, one record per custom_id: a file of a folder (custom_id: its path
relative to the folder) or a line of a request file (batch/requests.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pathspec

from minimax_cli.errors import MinimaxError
from minimax_cli.sources import Skipped, walk_folder
from minimax_cli.sources.clean import clean_text
from minimax_cli.tasks.spec import TaskSpec

if TYPE_CHECKING:  # requests.py builds jobs, so it imports this module, not the other way
    from minimax_cli.batch.requests import ChatSpec

@dataclass(frozen=True)
class Job:
    """One document or request line, and the custom_id of each record it writes (ask with several
    questions writes `id#q1`, `id#q2`, ...)."""

    custom_ids: tuple[str, ...]
    label: str  # how log lines name it
    spec: TaskSpec | ChatSpec | None = None  # None for a request line refused as it was read
    input: str | None = None  # a task's document
    body_sha256: str | None = None  # a chat request's canonical body
    problem: MinimaxError | None = None  # why a request line was refused
    fingerprints: tuple[str | None, ...] = ()  # one per custom_id, set by `plan_batch`

    def narrowed(self, keep: list[int]) -> Job:
        """The job for some of its custom_ids only (the questions still to answer)."""
        spec = self.spec
        if isinstance(spec, TaskSpec) and spec.task == "ask":
            spec = replace(spec, questions=tuple(spec.questions[i] for i in keep))
        return replace(self, spec=spec, custom_ids=tuple(self.custom_ids[i] for i in keep),
                       fingerprints=tuple(self.fingerprints[i] for i in keep))


def refused(custom_id: str, problem: MinimaxError, line: bytes) -> Job:
    """A request line that cannot run; keyed on its text, so that it is reported again only
    once it changes."""
    return Job(custom_ids=(custom_id,), label=custom_id, problem=problem,
               fingerprints=(hashlib.sha256(line).hexdigest(),))


def folder_jobs(root: Path, spec: TaskSpec, globs: Iterable[str] = (), excludes: Iterable[str] = (),
                leave_out: Iterable[Path] = (), no_ignore: bool = False,
                skipped: list[Skipped] | None = None) -> list[Job]:
    """A job for every file under `root` that the sources' one folder rule keeps
    (`sources.walk_folder`: inside the root, .gitignore honoured unless `no_ignore`, no links out,
    no loops, regular files only), matches a glob (all files when none is given) and no exclude
    pattern, in path order. Both use gitignore syntax (`*.pdf` matches at any depth, `drafts/` a
    whole folder). Hidden files and folders (a name starting with '.') and the files in
    `leave_out` (the results file) are never jobs. What the folder rule skipped, and why, is
    appended to `skipped`."""
    include = pathspec.GitIgnoreSpec.from_lines(list(globs) or ["*"])
    exclude = pathspec.GitIgnoreSpec.from_lines(list(excludes))
    left_out = {p.resolve() for p in leave_out}
    files, passed_over = walk_folder(root, no_ignore=no_ignore)
    if skipped is not None:
        skipped.extend(passed_over)
    jobs = []
    for rel in files:
        path = root / rel
        if (any(part.startswith(".") for part in rel.split("/")) or path.resolve() in left_out
                or not include.match_file(rel) or exclude.match_file(rel)):
            continue
        label = clean_text(rel)  # a custom_id is JSON text: an undecodable name's escapes replaced
        jobs.append(Job(custom_ids=tuple(spec.custom_ids(label)), label=label, spec=spec, input=str(path)))
    return sorted(jobs, key=lambda job: job.label)
