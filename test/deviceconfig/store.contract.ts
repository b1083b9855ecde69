import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { DeviceconfigStore } from '../../src/services/deviceconfig/store.ts'

export type DeviceconfigContractTarget = { store: DeviceconfigStore; close(): Promise<void> }

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms)

/** What every engine's deviceconfig store promises; each engine's test file runs it against a real database. */
export function deviceconfigStoreContract(
  name: string,
  open: () => Promise<DeviceconfigContractTarget>,
): void {
  describe(`${name} deviceconfig store`, () => {
    let target: DeviceconfigContractTarget
    let store: DeviceconfigStore
    beforeAll(async () => {
      target = await open()
      store = target.store
    })
    afterAll(() => target.close())

    test('a provisioned device starts empty; provisioning again keeps what it has', async () => {
      expect(await store.findDevice('', 'd1')).toBeUndefined()
      await store.insertDevice('', 'd1', at(0))
      expect(await store.findDevice('', 'd1')).toEqual({
        tenantId: '',
        id: 'd1',
        configured: {},
        reported: {},
        deploymentId: null,
        updatedTs: at(0),
        reportedTs: null,
      })
      await store.replaceConfigured('', 'd1', { a: '1' }, at(1))
      await store.insertDevice('', 'd1', at(2))
      expect((await store.findDevice('', 'd1'))?.configured).toEqual({ a: '1' })
    })

    test('configured and reported are replaced whole, each with its own time; either makes a missing device', async () => {
      await store.replaceConfigured('', 'd2', { a: '1', b: '2' }, at(10))
      await store.replaceConfigured('', 'd2', { c: '3' }, at(11))
      await store.replaceReported('', 'd2', { x: 'y' }, at(12))
      expect(await store.findDevice('', 'd2')).toMatchObject({
        configured: { c: '3' },
        reported: { x: 'y' },
        updatedTs: at(11),
        reportedTs: at(12),
      })
      await store.replaceReported('', 'd3', { r: 's' }, at(13))
      expect(await store.findDevice('', 'd3')).toMatchObject({
        configured: {},
        reported: { r: 's' },
        reportedTs: at(13),
      })
    })

    test('records the latest deployment only for a device it has', async () => {
      expect(await store.setDeploymentId('', 'd2', 'dep-1')).toBe(true)
      expect((await store.findDevice('', 'd2'))?.deploymentId).toBe('dep-1')
      expect(await store.setDeploymentId('', 'nobody', 'dep-2')).toBe(false)
      expect(await store.findDevice('', 'nobody')).toBeUndefined()
    })

    test('tenants are apart; deleting a device or a tenant says whether anything went', async () => {
      await store.replaceConfigured('t1', 'd1', { t: '1' }, at(20))
      expect((await store.findDevice('', 'd1'))?.configured).toEqual({ a: '1' })
      expect(await store.deleteDevice('', 'd1')).toBe(true)
      expect(await store.deleteDevice('', 'd1')).toBe(false)
      expect(await store.findDevice('t1', 'd1')).toBeDefined()
      expect(await store.deleteTenant('t1')).toBe(1)
      expect(await store.findDevice('t1', 'd1')).toBeUndefined()
      expect(await store.findDevice('', 'd2')).toBeDefined()
    })
  })
}
