import { createMemoryThrottleStore } from '../../src/services/useradm/throttle.ts'
import { throttleStoreContract } from './throttle.contract.ts'

throttleStoreContract('memory', async () => ({ store: createMemoryThrottleStore(), close: async () => {} }))
