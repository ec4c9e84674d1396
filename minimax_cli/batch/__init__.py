"""`minimax batch` and the single-document commands' driver: many documents or request lines
through one loaded model, safe to kill and rerun.

- jobs.py: `Job` (one document or request line, its custom_ids) and `folder_jobs`
- resume.py: fingerprints, `settled`, `plan_batch` (what earlier runs settled, what runs now)
- run.py: the one driver loop (`execute`, failure records, `Runner`, `LocalRunner`, `run_batch`)
- output.py: `BatchOutput`, the results file under its flock
- requests.py: request files, OpenAI chat-completion lines included (`ChatSpec`)
- estimate.py: `--dry-run`'s plan and time; replicas.py: `--replicas`; cluster.py: `--ray`
"""
