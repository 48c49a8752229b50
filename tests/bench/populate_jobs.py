#!/usr/bin/env python3
"""Fills a bitsd state directory with COUNT suspended one-file jobs, for B5 of run.sh.

Creating 100,000 jobs through D-Bus takes far too long today, so the benchmark writes them
into the store directly, in one transaction. The rows are copies of one template job that
bitsd itself created (through bitsadmin /create and /addfile) and that the caller names, so
every column holds a value bitsd wrote and the copy follows whatever the current schema is
(docs/storage-schema.md): only the id and the file names change.

    populate_jobs.py JOBS_DB TEMPLATE_GUID COUNT

The template's file is named "f0.bin"; copy i gets "f<i>.bin" in its URL and paths.
"""
import sqlite3
import sys
import uuid


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    db_path, template, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    db = sqlite3.connect(db_path, isolation_level=None)
    db.row_factory = sqlite3.Row
    job = db.execute("SELECT * FROM jobs WHERE id = ?", (template,)).fetchone()
    if job is None:
        sys.exit(f"populate_jobs: no job {template} in {db_path}")
    files = db.execute("SELECT * FROM files WHERE job_id = ?", (template,)).fetchall()
    if len(files) != 1 or "f0.bin" not in files[0]["local_path"]:
        sys.exit("populate_jobs: the template must have exactly one file named f0.bin")
    if db.execute("SELECT count(*) FROM credentials WHERE job_id = ?", (template,)).fetchone()[0]:
        sys.exit("populate_jobs: the template must have no credentials (they are sealed per job)")

    upper = template.upper() == template
    job_columns = list(job.keys())
    file_columns = list(files[0].keys())
    renamed = ("remote_url", "local_path", "temp_path")
    job_sql = "INSERT INTO jobs ({}) VALUES ({})".format(
        ",".join(job_columns), ",".join("?" * len(job_columns)))
    file_sql = "INSERT INTO files ({}) VALUES ({})".format(
        ",".join(file_columns), ",".join("?" * len(file_columns)))

    def new_id():
        text = str(uuid.uuid4())
        return "{" + (text.upper() if upper else text) + "}"

    job_rows, file_rows = [], []
    for i in range(1, count):
        job_id = new_id()
        job_rows.append([job_id if c == "id" else job[c] for c in job_columns])
        row = []
        for c in file_columns:
            value = files[0][c]
            if c == "job_id":
                value = job_id
            elif c in renamed and value is not None:
                value = value.replace("f0.bin", f"f{i}.bin")
            row.append(value)
        file_rows.append(row)
    db.execute("BEGIN")
    db.executemany(job_sql, job_rows)
    db.executemany(file_sql, file_rows)
    db.execute("COMMIT")
    total = db.execute("SELECT count(*) FROM jobs").fetchone()[0]
    db.close()
    print(f"jobs={total}")


if __name__ == "__main__":
    main()
