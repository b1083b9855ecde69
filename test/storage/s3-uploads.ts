import { type S3Client, UploadPartCommand } from '@aws-sdk/client-s3'

/**
 * Remembers every multipart upload `client` starts, by key, and answers which of them the S3
 * server still holds open: one that still takes a part was neither completed nor aborted.
 */
export function watchMultipartUploads(client: S3Client, bucket: string) {
  const started = new Map<string, string[]>()
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args)
      if (context.commandName === 'CreateMultipartUploadCommand') {
        const { Key, UploadId } = result.output as { Key: string; UploadId: string }
        started.set(Key, [...(started.get(Key) ?? []), UploadId])
      }
      return result
    },
    { step: 'initialize', name: 'watchMultipartUploads' },
  )
  return {
    started: (key: string) => started.get(key) ?? [],
    async stillOpen(key: string): Promise<string[]> {
      const open: string[] = []
      for (const UploadId of started.get(key) ?? []) {
        const accepted = await client
          .send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 99, Body: 'x' }))
          .then(
            () => true,
            (err) => (err.name === 'NoSuchUpload' ? false : Promise.reject(err)),
          )
        if (accepted) open.push(UploadId)
      }
      return open
    },
  }
}
