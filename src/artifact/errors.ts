/**
 * A `.mender` file (or a tar inside it, or a spec to write one) that cannot be accepted; its
 * message says why and is safe to send. The API answers it with 400.
 */
export class ArtifactError extends Error {}

/** An artifact larger than its reader was allowed to take; the API answers it with 413. */
export class ArtifactTooLargeError extends Error {
  constructor() {
    super('Artifact file too large')
  }
}
