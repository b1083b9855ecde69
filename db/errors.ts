/** The database named by BENDER_DATABASE_URL cannot be used (unreachable, refused, missing). */
export class DatabaseError extends Error {}
