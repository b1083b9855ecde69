import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { decodeJwt } from 'jose'
import { createTestApp, loginAs, type TestApp } from '../helpers/app.ts'

const ORGANIZATION = '/api/management/v1/tenantadm/user/tenant'

let t: TestApp
let token: string
beforeAll(async () => {
  t = await createTestApp()
  ;({ token } = await loginAs(t, 'org@example.com', 'org-password-1'))
})
afterAll(() => t.close())

describe('the organization Mender’s web GUI asks for', () => {
  test('lists configure and troubleshoot as enabled add-ons and monitor as off', async () => {
    const res = await t.call('GET', ORGANIZATION, { token })
    expect(res.status).toBe(200)
    expect(res.json).toEqual({
      id: '',
      name: 'bender',
      status: 'active',
      tenant_token: '',
      plan: 'os',
      addons: [
        { name: 'configure', enabled: true },
        { name: 'troubleshoot', enabled: true },
        { name: 'monitor', enabled: false },
      ],
      trial: false,
    })
  })

  test('says what the user token says, so the GUI sees no divergence', async () => {
    const { plan, addons, trial } = (await t.call('GET', ORGANIZATION, { token })).json as Record<
      string,
      unknown
    >
    const claims = decodeJwt(token)
    expect({
      plan: claims['mender.plan'],
      addons: claims['mender.addons'],
      trial: claims['mender.trial'],
    }).toEqual({
      plan,
      addons,
      trial,
    })
  })

  test('needs a signed-in user', async () => {
    const res = await t.call('GET', ORGANIZATION)
    expect(res.status).toBe(401)
    expect(res.json).toMatchObject({ error: expect.any(String), request_id: expect.any(String) })
  })
})
