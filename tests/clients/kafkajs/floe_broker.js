'use strict'
// Runs a real floe broker for the kafkajs tests: `floe serve` on 127.0.0.1 with a port
// picked by the kernel and a fresh temporary data dir. stop() sends SIGTERM (SIGKILL
// after STOP_TIMEOUT_MS), requires exit code 0 and removes the temporary folder.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const REPO = path.resolve(__dirname, '..', '..', '..')
const FLOE_BIN = process.env.FLOE_BIN || path.join(REPO, 'build', 'floe')
const LISTENING_RE = /listening on PLAINTEXT:\/\/([^ ,]+):(\d+)/
const START_TIMEOUT_MS = 20000
const STOP_TIMEOUT_MS = 15000
// With setpriv the kernel kills the broker if this node process dies first.
const SETPRIV = '/usr/bin/setpriv'

// The kafkajs package, or an error that says how to install it.
function requireKafkajs () {
  if (!fs.existsSync(path.join(__dirname, 'node_modules', 'kafkajs'))) {
    throw new Error(`kafkajs is not installed in ${__dirname}: run \`make test\` ` +
      '(it runs `npm ci` there), or `npm ci` in that folder yourself')
  }
  return require('kafkajs')
}

class FloeBroker {
  constructor (config = {}) {
    this.config = config
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-kafkajs-'))
    this.dataDir = path.join(this.root, 'data')
    fs.mkdirSync(this.dataDir)
    this.host = '127.0.0.1'
    this.port = null
    this.child = null
    this.stderr = ''
  }

  get bootstrap () { return `${this.host}:${this.port}` }

  args () {
    const args = ['serve', '--data-dir', this.dataDir,
      `--listeners=PLAINTEXT://${this.host}:${this.port ?? 0}`]
    for (const [key, value] of Object.entries(this.config)) args.push(`--${key}=${value}`)
    return args
  }

  start () {
    if (!fs.existsSync(FLOE_BIN)) {
      return Promise.reject(new Error(`floe binary not found at ${FLOE_BIN} (build it, or set FLOE_BIN)`))
    }
    const [cmd, args] = fs.existsSync(SETPRIV)
      ? [SETPRIV, ['--pdeathsig', 'KILL', '--', FLOE_BIN, ...this.args()]]
      : [FLOE_BIN, this.args()]
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    this.child = child
    // 'close', not 'exit': by then all of stderr has been read.
    child.exited = new Promise(resolve => child.on('close', (code, signal) => resolve({ code, signal })))
    return new Promise((resolve, reject) => {
      let listening = false
      const fail = (why) => {
        clearTimeout(timer)
        reject(new Error(`${why}\nstderr:\n${this.stderr}`))
      }
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        fail(`floe did not log 'listening on PLAINTEXT://...' within ${START_TIMEOUT_MS} ms`)
      }, START_TIMEOUT_MS)
      child.on('error', err => fail(`could not start ${FLOE_BIN}: ${err.message}`))
      child.exited.then(({ code, signal }) => fail(`floe exited (code ${code}, signal ${signal}) before listening`))
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', chunk => {
        this.stderr += chunk
        if (listening) return
        const m = LISTENING_RE.exec(this.stderr)
        if (m) {
          listening = true
          clearTimeout(timer)
          this.port = Number(m[2])
          resolve(this)
        }
      })
    })
  }

  // Returns { code, signal }; throws unless the broker exited with code 0 on SIGTERM.
  async stop () {
    const child = this.child
    if (child === null) return
    this.child = null
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    let timer
    const killed = new Promise(resolve => {
      timer = setTimeout(() => { child.kill('SIGKILL'); resolve(true) }, STOP_TIMEOUT_MS)
    })
    const result = await Promise.race([child.exited.then(r => ({ ...r, killed: false })),
      killed.then(() => child.exited.then(r => ({ ...r, killed: true })))])
    clearTimeout(timer)
    if (result.killed) {
      throw new Error(`floe did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\nstderr:\n${this.stderr}`)
    }
    if (result.code !== 0) {
      throw new Error(`floe exited with code ${result.code}, signal ${result.signal} on SIGTERM; ` +
        `expected 0\nstderr:\n${this.stderr}`)
    }
    return result
  }

  // Stops the broker (requiring exit code 0) and always removes the temporary folder.
  async close () {
    try {
      await this.stop()
    } finally {
      fs.rmSync(this.root, { recursive: true, force: true })
    }
  }
}

async function startBroker (config = {}) {
  const broker = new FloeBroker(config)
  try {
    return await broker.start()
  } catch (err) {
    fs.rmSync(broker.root, { recursive: true, force: true })
    throw err
  }
}

// The kafkajs client every suite uses against a started broker.
function kafkaFor (kafkajs, broker) {
  return new kafkajs.Kafka({
    clientId: 'floe-tests',
    brokers: [broker.bootstrap],
    logLevel: kafkajs.logLevel.NOTHING,
    connectionTimeout: 10000,
    requestTimeout: 20000,
    retry: { retries: 5 }
  })
}

module.exports = { FloeBroker, startBroker, requireKafkajs, kafkaFor }
