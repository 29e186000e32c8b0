'use strict'
// kafkajs 2.2.4 consumer groups against a real floe broker: two consumers sharing a
// topic with manual commits, and the admin group APIs (listGroups, describeGroups,
// fetchOffsets, setOffsets, resetOffsets, deleteGroups).
// Run: node --test tests/clients/kafkajs/

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { startBroker, requireKafkajs, kafkaFor } = require('./floe_broker')

// Upper bound on waiting for a state that must come; a guard against hangs, not a measurement.
const DEADLINE_MS = 60000

async function waitFor (condition, what) {
  const deadline = Date.now() + DEADLINE_MS
  for (;;) {
    if (await condition()) return
    if (Date.now() > deadline) throw new Error(`after ${DEADLINE_MS} ms: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

// Offsets as { partition: offset } from admin.fetchOffsets for one topic.
async function committed (admin, groupId, topic, options = {}) {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic], ...options })
  assert.equal(t.topic, topic)
  return Object.fromEntries(t.partitions.map(p => [p.partition, p.offset]))
}

describe('kafkajs consumer groups', () => {
  let broker = null
  let kafka = null
  let admin = null
  let kafkajs = null
  const running = new Set()

  before(async () => {
    kafkajs = requireKafkajs()
    broker = await startBroker({
      'wal.linger.ms': 20,
      'group.initial.rebalance.delay.ms': 0,
      'group.min.session.timeout.ms': 1000
    })
    kafka = kafkaFor(kafkajs, broker)
    admin = kafka.admin()
    await admin.connect()
  })

  after(async () => {
    try {
      for (const c of running) await c.disconnect()
      if (admin !== null) await admin.disconnect()
    } finally {
      if (broker !== null) {
        const root = broker.root
        await broker.close() // throws unless the broker exits with code 0 on SIGTERM
        assert.equal(fs.existsSync(root), false, `${root} was not removed`)
      }
    }
  })

  async function produce (topic, partitions, perPartition, start = 0) {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      const messages = []
      for (let p = 0; p < partitions; p++) {
        for (let i = start; i < start + perPartition; i++) messages.push({ partition: p, value: `${p}:${i}` })
      }
      await producer.send({ topic, acks: -1, messages })
    } finally {
      await producer.disconnect()
    }
  }

  // A consumer that records what it processes and commits each record after it.
  async function startConsumer (groupId, topic) {
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 6000,
      rebalanceTimeout: 10000,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 100,
      retry: { retries: 10 }
    })
    const state = { consumer, records: [], assignment: null, joins: 0 }
    consumer.on(consumer.events.GROUP_JOIN, e => {
      state.joins++
      state.assignment = e.payload.memberAssignment[topic] ?? []
    })
    await consumer.connect()
    running.add(consumer)
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        state.records.push([partition, Number(message.offset), message.value.toString()])
        await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }])
      }
    })
    return state
  }

  async function stopConsumer (state) {
    await state.consumer.disconnect() // LeaveGroup
    running.delete(state.consumer)
  }

  it('two consumers share a topic; every record is consumed and committed', async () => {
    const topic = 'js-group'
    const groupId = 'js-group-shared'
    const n = 4
    await admin.createTopics({ topics: [{ topic, numPartitions: n }], waitForLeaders: true })
    const a = await startConsumer(groupId, topic)
    const b = await startConsumer(groupId, topic)
    await waitFor(() => a.assignment?.length === 2 && b.assignment?.length === 2 &&
      new Set([...a.assignment, ...b.assignment]).size === n,
    'both consumers to own two partitions')

    await produce(topic, n, 25)
    await waitFor(() => new Set([...a.records, ...b.records].map(([p, o]) => `${p}/${o}`)).size === n * 25,
      'every record to be consumed')
    for (const [p, o, v] of [...a.records, ...b.records]) assert.equal(v, `${p}:${o}`)
    await waitFor(async () => Object.values(await committed(admin, groupId, topic)).every(o => o === '25'),
      'commits up to the end of every partition')

    // The group as the admin client sees it.
    const { groups: [desc] } = await admin.describeGroups([groupId])
    assert.equal(desc.groupId, groupId)
    assert.equal(desc.errorCode, 0)
    assert.equal(desc.state, 'Stable')
    assert.equal(desc.protocolType, 'consumer')
    assert.equal(desc.protocol, 'RoundRobinAssigner')
    assert.equal(desc.members.length, 2)
    const owned = []
    for (const m of desc.members) {
      assert.equal(m.clientId, 'floe-tests')
      assert.match(m.clientHost, /127\.0\.0\.1/)
      assert.deepEqual(kafkajs.AssignerProtocol.MemberMetadata.decode(m.memberMetadata).topics, [topic])
      owned.push(...kafkajs.AssignerProtocol.MemberAssignment.decode(m.memberAssignment).assignment[topic])
    }
    assert.deepEqual(owned.sort(), [0, 1, 2, 3])
    const { groups } = await admin.listGroups()
    assert.ok(groups.some(g => g.groupId === groupId && g.protocolType === 'consumer'), JSON.stringify(groups))

    await assert.rejects(admin.deleteGroups([groupId]), err => {
      assert.equal(err.name, 'KafkaJSDeleteGroupsError', err.message)
      assert.equal(err.groups[0].groupId, groupId)
      assert.equal(err.groups[0].error.type, 'NON_EMPTY_GROUP')
      return true
    })

    await stopConsumer(a)
    await stopConsumer(b)
    const { groups: [empty] } = await admin.describeGroups([groupId])
    assert.equal(empty.state, 'Empty')
    assert.deepEqual(empty.members, [])
    assert.deepEqual(await committed(admin, groupId, topic), { 0: '25', 1: '25', 2: '25', 3: '25' })
  })

  it('setOffsets, resetOffsets, fetchOffsets and deleteGroups', async () => {
    const topic = 'js-group-admin'
    const groupId = 'js-group-offsets'
    const n = 4
    await admin.createTopics({ topics: [{ topic, numPartitions: n }], waitForLeaders: true })
    await produce(topic, n, 25)

    // setOffsets on a group that does not exist yet; a consumer then starts there.
    const start = { 0: 5, 1: 10, 2: 0, 3: 25 }
    await admin.setOffsets({
      groupId,
      topic,
      partitions: Object.entries(start).map(([partition, offset]) => ({ partition: Number(partition), offset: String(offset) }))
    })
    assert.deepEqual(await committed(admin, groupId, topic), { 0: '5', 1: '10', 2: '0', 3: '25' })
    const c = await startConsumer(groupId, topic)
    const expected = Object.values(start).reduce((sum, s) => sum + 25 - s, 0)
    await waitFor(() => c.records.length >= expected, `${expected} records from the set offsets`)
    await waitFor(async () => Object.values(await committed(admin, groupId, topic)).every(o => o === '25'),
      'commits up to the end of every partition')
    await stopConsumer(c)
    assert.equal(c.records.length, expected)
    for (let p = 0; p < n; p++) {
      const offsets = c.records.filter(([q]) => q === p).map(([, o]) => o)
      assert.deepEqual(offsets, Array.from({ length: 25 - start[p] }, (_, i) => start[p] + i), `partition ${p}`)
    }

    // resetOffsets to the earliest: resolved, that is the low watermark.
    await admin.resetOffsets({ groupId, topic, earliest: true })
    assert.deepEqual(await committed(admin, groupId, topic, { resolveOffsets: true }), { 0: '0', 1: '0', 2: '0', 3: '0' })
    assert.deepEqual(await committed(admin, groupId, topic), { 0: '0', 1: '0', 2: '0', 3: '0' })

    // deleteGroups: the offsets go with the group; an unknown group is an error.
    assert.deepEqual((await admin.deleteGroups([groupId])).map(r => [r.groupId, r.errorCode]), [[groupId, 0]])
    assert.deepEqual(await committed(admin, groupId, topic), { 0: '-1', 1: '-1', 2: '-1', 3: '-1' })
    const { groups } = await admin.listGroups()
    assert.ok(!groups.some(g => g.groupId === groupId), JSON.stringify(groups))
    await assert.rejects(admin.deleteGroups(['js-group-never-existed']), err => {
      assert.equal(err.name, 'KafkaJSDeleteGroupsError', err.message)
      assert.equal(err.groups[0].error.type, 'GROUP_ID_NOT_FOUND')
      return true
    })
  })
})
