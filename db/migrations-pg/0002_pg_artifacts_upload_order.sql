-- The upload order of artifacts (a release's artifacts are listed in it). SQLite keeps it in the
-- implicit rowid; PostgreSQL needs a column of its own, filled in for existing rows as they lie.
-- Not declared in tables.pg.ts: rows read the same on both engines, only the store's ORDER BY names it.
ALTER TABLE "deployments_artifacts" ADD COLUMN "upload_seq" bigint GENERATED ALWAYS AS IDENTITY;
