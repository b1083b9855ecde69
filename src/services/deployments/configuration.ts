import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { writeModuleImage } from '../../artifact/writer.ts'
import { BlobExistsError, type BlobStore } from '../../storage/blobs.ts'
import type { Links, SignedLink } from '../../storage/links.ts'
import type { DeploymentRow } from './store.deployments.ts'

/** The update module that applies a configuration on the device (Mender's `mender-configure` add-on). */
export const CONFIGURE_TYPE = 'mender-configure'
/** What a configuration artifact provides and clears, as Mender generates it. */
const CONFIGURE_VERSION = 'data-partition.mender-configure.version'
const CONFIGURE_CLEARS = 'data-partition.mender-configure.*'

/** Where the artifact of a configuration deployment for one device type is kept once made. */
function configurationBlobKey(deployment: DeploymentRow, deviceType: string): string {
  const type = new Bun.CryptoHasher('sha256').update(deviceType).digest('hex').slice(0, 32)
  const key = `configurations/${deployment.id}/${type}`
  return deployment.tenantId === '' ? key : `${deployment.tenantId}/${key}`
}

/**
 * The artifacts of configuration deployments, made when a device asks (the device type comes with
 * its request): format 3, update type `mender-configure`, no payload files, the configuration as
 * the payload's meta-data. Each is written once into the blob store and then handed out through
 * ordinary download links; the start-up sweep removes them, as objects no artifact refers to,
 * once they are old, and a device asking again after that gets a new one.
 */
export function createConfigurationArtifacts(parts: { blobs: BlobStore; links: Links; tempDir: string }) {
  const { blobs, links, tempDir } = parts

  async function make(deployment: DeploymentRow, deviceType: string, key: string): Promise<void> {
    const path = join(tempDir, `configuration-${crypto.randomUUID()}.mender`)
    try {
      await mkdir(tempDir, { recursive: true })
      await writeModuleImage(
        {
          name: deployment.artifactName,
          deviceTypes: [deviceType],
          type: CONFIGURE_TYPE,
          files: [],
          metaData: deployment.configuration ?? {},
          versionProvide: CONFIGURE_VERSION,
          clearsProvides: [CONFIGURE_CLEARS],
          date: deployment.created,
        },
        path,
      )
      await blobs.put(key, Bun.file(path).stream())
    } catch (err) {
      // Another request of the same device made it first: that one is as good.
      if (!(err instanceof BlobExistsError)) throw err
    } finally {
      await rm(path, { force: true })
    }
  }

  return {
    /** A download link to the deployment's artifact for `deviceType`, made first when missing. */
    async link(deployment: DeploymentRow, deviceType: string, ttlSeconds: number): Promise<SignedLink> {
      const key = configurationBlobKey(deployment, deviceType)
      if (!(await blobs.stat(key))) await make(deployment, deviceType, key)
      return links.download(key, { filename: `${deployment.artifactName}.mender`, ttlSeconds })
    },
  }
}
