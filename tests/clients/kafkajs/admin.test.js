'use strict'
// kafkajs 2.2.4 admin client against a real floe broker. Run: node --test tests/clients/kafkajs/

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { startBroker, requireKafkajs } = require('./floe_broker')

describe('kafkajs admin', () => {
  let broker = null
  let admin = null

  before(async () => {
    const { Kafka, logLevel } = requireKafkajs() // fails here, with the fix, if not installed
    broker = await startBroker()
    const kafka = new Kafka({
      clientId: 'floe-tests',
      brokers: [broker.bootstrap],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 10000,
      requestTimeout: 10000,
      retry: { retries: 2 }
    })
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

  it('describeCluster returns the broker and a cluster id', async () => {
    const cluster = await admin.describeCluster()
    assert.equal(typeof cluster.clusterId, 'string')
    assert.notEqual(cluster.clusterId, '')
    assert.equal(cluster.brokers.length, 1, JSON.stringify(cluster))
    const [b] = cluster.brokers
    assert.equal(b.host, '127.0.0.1')
    assert.equal(b.port, broker.port)
    assert.ok(Number.isInteger(b.nodeId) && b.nodeId >= 0, JSON.stringify(cluster))
    assert.equal(cluster.controller, b.nodeId)
  })

  it('listTopics returns no topics', async () => {
    assert.deepEqual(await admin.listTopics(), [])
  })

  it('fetchTopicMetadata for all topics returns none', async () => {
    assert.deepEqual(await admin.fetchTopicMetadata(), { topics: [] })
  })
})
