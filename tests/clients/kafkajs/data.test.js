'use strict'
// kafkajs 2.2.4 producing into a real floe broker, checked with kafkajs admin APIs
// (ListOffsets: fetchTopicOffsets, fetchTopicOffsetsByTimestamp; DeleteRecords) and,
// where kcat is installed, read back record by record with `kcat -C` (kafkajs has no
// consumer without a group, and consumer groups come with a later issue).
// Run: node --test tests/clients/kafkajs/

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { spawnSync } = require('node:child_process')
const { startBroker, requireKafkajs, kafkaFor } = require('./floe_broker')

const KCAT = ['/usr/bin/kcat', '/usr/bin/kafkacat'].find(p => fs.existsSync(p))

function kcatConsume (broker, topic, partition) {
  const out = spawnSync(KCAT, ['-b', broker.bootstrap, '-C', '-t', topic, '-p', String(partition),
    '-o', 'beginning', '-e', '-f', '%o|%k|%s|%h\n'], { encoding: 'utf8', timeout: 60000 })
  assert.equal(out.status, 0, `kcat failed: ${out.stderr}`)
  return out.stdout.split('\n').filter(line => line !== '')
}

describe('kafkajs data path', () => {
  let broker = null
  let kafka = null
  let admin = null
  let kafkajs = null

  before(async () => {
    kafkajs = requireKafkajs()
    broker = await startBroker({ 'wal.linger.ms': 20, 'auto.create.topics.enable': 'false' })
    kafka = kafkaFor(kafkajs, broker)
    admin = kafka.admin()
    await admin.connect()
  })

  after(async () => {
    try {
      if (admin !== null) await admin.disconnect()
    } finally {
      if (broker !== null) {
        const root = broker.root
        await broker.close() // throws unless the broker exits with code 0 on SIGTERM
        assert.equal(fs.existsSync(root), false, `${root} was not removed`)
      }
    }
  })

  it('an idempotent producer writes; high watermarks and record contents match', async () => {
    const topic = 'js-idem'
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true }), true)
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const perPartition = [0, 0, 0]
    try {
      for (let round = 0; round < 10; round++) {
        const messages = []
        for (let i = 0; i < 50; i++) {
          const n = round * 50 + i
          const partition = n % 3
          perPartition[partition]++
          messages.push({
            partition,
            key: n % 4 === 0 ? null : `k${n}`,
            value: `value ${n}`,
            headers: n % 2 ? { h: `${n}` } : undefined
          })
        }
        const compression = round % 2 ? kafkajs.CompressionTypes.GZIP : kafkajs.CompressionTypes.None
        const meta = await producer.send({ topic, acks: -1, compression, messages })
        for (const m of meta) assert.equal(m.errorCode, 0, JSON.stringify(meta))
      }
    } finally {
      await producer.disconnect()
    }

    const offsets = await admin.fetchTopicOffsets(topic)
    offsets.sort((a, b) => a.partition - b.partition)
    assert.deepEqual(offsets.map(o => [o.partition, o.low, o.high]),
      perPartition.map((n, p) => [p, '0', String(n)]))

    if (KCAT) {
      for (let p = 0; p < 3; p++) {
        const expected = []
        for (let n = p, o = 0; n < 500; n += 3, o++) {
          expected.push(`${o}|${n % 4 === 0 ? '' : `k${n}`}|value ${n}|${n % 2 ? `h=${n}` : ''}`)
        }
        assert.deepEqual(kcatConsume(broker, topic, p), expected)
      }
    }
  })

  it('send returns base offsets; a second producer continues after them', async () => {
    const topic = 'js-offsets'
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
    const bases = []
    for (const idempotent of [true, false]) {
      const producer = kafka.producer({ idempotent, maxInFlightRequests: 1 })
      await producer.connect()
      try {
        for (let i = 0; i < 3; i++) {
          const [meta] = await producer.send({
            topic,
            acks: -1,
            messages: [{ partition: 0, value: 'a' }, { partition: 0, value: 'b' }]
          })
          bases.push(meta.baseOffset)
        }
      } finally {
        await producer.disconnect()
      }
    }
    assert.deepEqual(bases, ['0', '2', '4', '6', '8', '10'])
    const [o] = await admin.fetchTopicOffsets(topic)
    assert.equal(o.high, '12')
  })

  it('fetchTopicOffsetsByTimestamp finds the first offset at or after a time', async () => {
    const topic = 'js-times'
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })
    const base = 1700000000000
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      // Partition 0: offsets 0..4 at +0, +100, +200 (one batch), then +50, +300 (two more).
      await producer.send({
        topic,
        acks: -1,
        messages: [0, 100, 200].map(d => ({ partition: 0, value: `${d}`, timestamp: String(base + d) }))
      })
      for (const d of [50, 300]) {
        await producer.send({ topic, acks: -1, messages: [{ partition: 0, value: `${d}`, timestamp: String(base + d) }] })
      }
    } finally {
      await producer.disconnect()
    }
    const at = async (ts) => {
      const r = await admin.fetchTopicOffsetsByTimestamp(topic, ts)
      return r.sort((a, b) => a.partition - b.partition).map(x => x.offset)
    }
    // Partition 1 is empty: kafkajs reports its high watermark (0) for "none".
    assert.deepEqual(await at(base - 10), ['0', '0'])
    assert.deepEqual(await at(base + 60), ['1', '0'])
    assert.deepEqual(await at(base + 150), ['2', '0'])
    assert.deepEqual(await at(base + 250), ['4', '0'])
    assert.deepEqual(await at(base + 300), ['4', '0'])
    assert.deepEqual(await at(base + 301), ['5', '0']) // none that late: the high watermark
  })

  it('deleteTopicRecords moves the low watermark', async () => {
    const topic = 'js-delete-records'
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    try {
      await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ partition: 0, value: `${i}` })) })
    } finally {
      await producer.disconnect()
    }
    // kafkajs looks the partition leader up in metadata it already has, before it
    // refreshes: fetchTopicOffsets first puts the topic there.
    const [b] = await admin.fetchTopicOffsets(topic)
    assert.deepEqual([b.low, b.high], ['0', '10'])
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '4' }] })
    const [o] = await admin.fetchTopicOffsets(topic)
    assert.deepEqual([o.low, o.high], ['4', '10'])
    if (KCAT) {
      assert.deepEqual(kcatConsume(broker, topic, 0).map(l => l.split('|')[0]),
        ['4', '5', '6', '7', '8', '9'])
    }
  })

  it('producing to a missing topic fails without auto-creation', async () => {
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 1 } })
    await producer.connect()
    try {
      await assert.rejects(producer.send({ topic: 'js-missing', acks: -1, messages: [{ value: 'x' }] }),
        err => /does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION|This server does not host/i
          .test(`${err.message} ${err.type ?? ''} ${err.originalError?.type ?? ''}`) || (console.error(err), false))
    } finally {
      await producer.disconnect()
    }
  })
})
