// floe_load: a produce/consume load generator on librdkafka's C API.
//
// Produces fixed-size records to a topic with P partitions (round robin), acks=all,
// either flat out or at a target rate, and measures:
//   - produce throughput: record bytes / (first send .. last delivery report)
//   - produce latency: produce() call -> delivery report, per record
//   - end-to-end latency (--e2e): a consumer in this process, assigned to every
//     partition, reads each record; latency = receive time - send time carried in
//     the record value (same process, same steady clock).
// Records sent during the first --warmup-s seconds count for throughput but not for
// the latency percentiles (connections, metadata and the consumer's first fetches
// settle then).
//
// From librdkafka's statistics it also reports where a record's time went: in the
// client's queue before its batch was made ("int_latency") and from request to
// response ("rtt": the broker plus the network).
//
// Prints one JSON object on stdout; progress goes to stderr. Build:
//   g++ -O2 -std=c++20 bench/load.cc -o build/bench/floe_load $(pkg-config --cflags --libs rdkafka) -pthread

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct Options {
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic = "bench";
  int partitions = 1;
  bool create = true;
  int64_t bytes = 1LL << 30;  // total record bytes, unless seconds is set
  double seconds = 0;         // with a rate: run this long instead of `bytes`
  int record_size = 1024;
  double rate_mibs = 0;  // 0: flat out
  bool e2e = false;
  double warmup_s = 2;
  int linger_ms = 5;
  int consumer_wait_s = 120;  // how long the consumer may lag behind at the end
  int drain_s = 120;          // how long to wait for delivery reports after the last send
  int producers = 1;          // producer instances; partition p goes to producer p % producers
  double max_seconds = 0;     // stop sending after this long, whatever is left (0: no limit)
  // queue.buffering.backpressure.threshold (0: librdkafka's default, 1). While this many
  // produce requests wait to be written to a broker, librdkafka makes no new ones; at 1
  // its broker thread makes one request per pass over all the broker's partitions.
  int backpressure_threshold = 0;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "floe_load: %s\n"
               "usage: floe_load [--bootstrap HOST:PORT] [--topic NAME] [--partitions P] [--no-create]\n"
               "                 [--bytes N | --seconds S] [--record-size B] [--rate-mibs R (0: flat out)]\n"
               "                 [--e2e] [--warmup-s S] [--linger-ms MS] [--max-seconds S]\n"
               "                 [--drain-s S] [--consumer-wait-s S] [--producers N]\n"
               "                 [--backpressure-threshold N]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--bootstrap") o.bootstrap = value();
    else if (a == "--topic") o.topic = value();
    else if (a == "--partitions") o.partitions = std::stoi(value());
    else if (a == "--no-create") o.create = false;
    else if (a == "--bytes") o.bytes = std::stoll(value());
    else if (a == "--seconds") o.seconds = std::stod(value());
    else if (a == "--record-size") o.record_size = std::stoi(value());
    else if (a == "--rate-mibs") o.rate_mibs = std::stod(value());
    else if (a == "--e2e") o.e2e = true;
    else if (a == "--warmup-s") o.warmup_s = std::stod(value());
    else if (a == "--linger-ms") o.linger_ms = std::stoi(value());
    else if (a == "--consumer-wait-s") o.consumer_wait_s = std::stoi(value());
    else if (a == "--max-seconds") o.max_seconds = std::stod(value());
    else if (a == "--drain-s") o.drain_s = std::stoi(value());
    else if (a == "--producers") o.producers = std::stoi(value());
    else if (a == "--backpressure-threshold") o.backpressure_threshold = std::stoi(value());
    else usage(("unknown argument " + a).c_str());
  }
  if (o.partitions < 1) usage("--partitions must be at least 1");
  if (o.producers < 1) usage("--producers must be at least 1");
  if (o.backpressure_threshold < 0) usage("--backpressure-threshold must not be negative");
  if (o.record_size < 16) usage("--record-size must be at least 16 (send time and sequence)");
  if (o.seconds > 0 && o.rate_mibs <= 0) usage("--seconds needs --rate-mibs");
  return o;
}

void set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    throw std::runtime_error(std::string("config ") + key + ": " + err);
  }
}

struct Handle {
  rd_kafka_t* rk = nullptr;
  ~Handle() {
    if (rk) rd_kafka_destroy(rk);
  }
};

rd_kafka_t* make_client(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(std::string("rd_kafka_new: ") + err);
  return rk;
}

// CreateTopics through the admin API; an existing topic is fine.
void create_topic(const Options& o) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", o.bootstrap);
  Handle h{make_client(RD_KAFKA_PRODUCER, conf)};
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(o.topic.c_str(), o.partitions, 1, err, sizeof err);
  if (!nt) throw std::runtime_error(std::string("NewTopic: ") + err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(h.rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(h.rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opts, 120000, err, sizeof err);
  rd_kafka_AdminOptions_set_operation_timeout(opts, 120000, err, sizeof err);
  rd_kafka_CreateTopics(h.rk, &nt, 1, opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 180000);
  std::string failure;
  if (!ev) {
    failure = "no CreateTopics result within 180 s";
  } else if (rd_kafka_event_error(ev)) {
    failure = rd_kafka_event_error_string(ev);
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) failure = rd_kafka_err2str(e);
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  if (!failure.empty()) throw std::runtime_error("create topic " + o.topic + ": " + failure);
}

struct Percentiles {
  size_t count = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // milliseconds
};

Percentiles percentiles(std::vector<int64_t>& ns) {
  Percentiles p;
  p.count = ns.size();
  if (ns.empty()) return p;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    size_t idx = static_cast<size_t>(std::ceil(q * static_cast<double>(ns.size()))) - 1;
    return static_cast<double>(ns[std::min(idx, ns.size() - 1)]) / 1e6;
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = static_cast<double>(ns.back()) / 1e6;
  return p;
}

// State the delivery-report callbacks update; they run on the thread that polls the
// producers, which is the main thread, so no locking.
struct ProduceState {
  int64_t measure_from_ns = 0;  // records sent before this are warm-up
  std::vector<int64_t> latencies_ns;
  int64_t delivered = 0;
  int64_t errors = 0;
  int64_t last_delivery_ns = 0;
  std::string first_error;
};

// One producer instance: librdkafka's opaque for its callbacks.
struct ProducerSlot {
  ProduceState* state = nullptr;
  int64_t requests_sent = -1;  // from librdkafka's statistics: requests to brokers
  // p99 of each statistics interval after the warm-up, in ms, per broker.
  std::vector<double> queue_p99_ms;  // "int_latency"
  std::vector<double> rtt_p99_ms;    // "rtt"
  Handle handle;
};

// The p99 (us in the JSON, ms out) of every non-empty window named `key` in one
// statistics JSON. Only broker entries have "int_latency" and "rtt" windows, and a
// window is a flat object ({ "min":.., "p99": .., "cnt":.. }); the bootstrap entry's
// windows are empty (cnt 0).
void window_p99s(std::string_view s, std::string_view key, std::vector<double>& out) {
  const std::string name = "\"" + std::string(key) + "\":";
  auto number_after = [](std::string_view w, std::string_view field) -> std::optional<int64_t> {
    size_t at = w.find(field);
    if (at == std::string_view::npos) return std::nullopt;
    return std::strtoll(w.data() + at + field.size(), nullptr, 10);
  };
  for (size_t at = s.find(name); at != std::string_view::npos; at = s.find(name, at + name.size())) {
    size_t open = s.find_first_not_of(" ", at + name.size());
    if (open == std::string_view::npos || s[open] != '{') continue;
    size_t end = s.find('}', open);
    if (end == std::string_view::npos) break;
    std::string_view w = s.substr(open, end - open);
    auto count = number_after(w, "\"cnt\":");
    auto p99 = number_after(w, "\"p99\":");
    if (count && *count > 0 && p99) out.push_back(static_cast<double>(*p99) / 1000.0);
  }
}

// librdkafka's statistics end with the client totals: "tx" (requests sent), then
// "tx_bytes" (brokers' entries spell it "txbytes"). The producer sends little but
// Produce, so this is how many produce requests carried the records.
int on_stats(rd_kafka_t*, char* json, size_t len, void* opaque) {
  std::string_view s(json, len);
  constexpr std::string_view kTx = "\"tx\":";
  size_t end = s.rfind("\"tx_bytes\"");
  size_t start = end == std::string_view::npos ? end : s.rfind(kTx, end);
  auto* slot = static_cast<ProducerSlot*>(opaque);
  if (start != std::string_view::npos) {
    slot->requests_sent =
        std::strtoll(std::string(s.substr(start + kTx.size(), end - start - kTx.size())).c_str(), nullptr, 10);
  }
  if (now_ns() >= slot->state->measure_from_ns) {
    window_p99s(s, "int_latency", slot->queue_p99_ms);
    window_p99s(s, "rtt", slot->rtt_p99_ms);
  }
  return 0;  // librdkafka frees json
}

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  ProduceState* st = static_cast<ProducerSlot*>(opaque)->state;
  int64_t now = now_ns();
  auto sent = static_cast<int64_t>(reinterpret_cast<intptr_t>(m->_private));
  if (m->err) {
    if (st->errors++ == 0) st->first_error = rd_kafka_err2str(m->err);
    return;
  }
  ++st->delivered;
  st->last_delivery_ns = now;
  if (sent >= st->measure_from_ns) st->latencies_ns.push_back(now - sent);
}

// Reads every partition from the beginning and records, per record, the time since
// its send time (first 8 bytes of the value).
class E2eConsumer {
 public:
  E2eConsumer(const Options& o, int64_t expected) : o_(o), expected_(expected) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", o.bootstrap);
    // The high-level consumer needs a group id to assign(); no group API is used
    // (no subscribe, no commits).
    set(conf, "group.id", "floe-bench");
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.auto.offset.store", "false");
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "fetch.wait.max.ms", "500");
    set(conf, "fetch.min.bytes", "1");
    set(conf, "log_level", "3");
    h_.rk = make_client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(h_.rk);
    // From offset 0, not RD_KAFKA_OFFSET_BEGINNING: the topic is new, so
    // they are the same records, but a logical offset makes librdkafka 2.0
    // look up every partition's start with a ListOffsets request of its own,
    // and its broker thread then walks all partitions once per answer: at
    // 10,000 partitions that kept a core busy for ~12 s after assign(), most
    // of it inside the measured seconds (bench README). A topic that does
    // not start at 0 is still read from its start (auto.offset.reset).
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(o.partitions);
    for (int p = 0; p < o.partitions; ++p) {
      rd_kafka_topic_partition_list_add(parts, o.topic.c_str(), p)->offset = 0;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(h_.rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err) throw std::runtime_error(std::string("assign: ") + rd_kafka_err2str(err));
    thread_ = std::thread([this] { run(); });
  }

  ~E2eConsumer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    rd_kafka_consumer_close(h_.rk);
  }

  void set_measure_from(int64_t ns) { measure_from_ns_ = ns; }

  // Waits until a primer record (sequence -1) has arrived from every partition,
  // or the deadline; returns from how many.
  int wait_primed(int64_t deadline_ns) {
    while (primed_.load() < o_.partitions && now_ns() < deadline_ns) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return primed_.load();
  }
  void expect(int64_t n) { expected_ = n; }

  // Waits until every expected record has arrived, or the deadline; returns how many did.
  int64_t wait_all(int64_t deadline_ns) {
    while (received_.load() < expected_ && now_ns() < deadline_ns) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return received_.load();
  }

  std::vector<int64_t> take_latencies() {
    std::lock_guard lock(mu_);
    return std::move(latencies_ns_);
  }

  int64_t errors() const { return errors_.load(); }

 private:
  void run() {
    std::vector<int64_t> local;
    local.reserve(1 << 16);
    while (!stop_ && received_.load() < expected_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(h_.rk, 100);
      if (!m) continue;
      int64_t now = now_ns();
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          if (errors_++ == 0) std::fprintf(stderr, "consumer: %s\n", rd_kafka_message_errstr(m));
        }
      } else if (m->len >= 16 && is_primer(m)) {
        auto p = static_cast<size_t>(m->partition);
        if (p < primed_seen_.size() && !primed_seen_[p]) {
          primed_seen_[p] = 1;
          primed_++;
        }
      } else if (m->len >= 8) {
        int64_t sent;
        std::memcpy(&sent, m->payload, sizeof sent);
        if (sent >= measure_from_ns_.load()) local.push_back(now - sent);
        received_++;
      }
      rd_kafka_message_destroy(m);
    }
    std::lock_guard lock(mu_);
    latencies_ns_ = std::move(local);
  }

  static bool is_primer(const rd_kafka_message_t* m) {
    int64_t seq;
    std::memcpy(&seq, static_cast<const char*>(m->payload) + 8, sizeof seq);
    return seq == -1;
  }

  const Options& o_;
  std::atomic<int64_t> expected_;
  std::vector<uint8_t> primed_seen_ = std::vector<uint8_t>(static_cast<size_t>(o_.partitions));  // consumer thread only
  std::atomic<int> primed_{0};
  Handle h_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> received_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> measure_from_ns_{INT64_MAX};
  std::mutex mu_;
  std::vector<int64_t> latencies_ns_;
};

void print_percentiles(const char* name, const Percentiles& p, bool last) {
  std::printf("  \"%s\": {\"count\": %zu, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f}%s\n",
              name, p.count, p.p50, p.p99, p.p999, p.max, last ? "" : ",");
}

// Per-interval p99s (one per statistics interval and broker): their median and max.
void print_windows(const char* name, std::vector<double> p99s) {
  if (p99s.empty()) {
    std::printf("  \"%s\": null,\n", name);
    return;
  }
  std::sort(p99s.begin(), p99s.end());
  std::printf("  \"%s\": {\"intervals\": %zu, \"median\": %.3f, \"max\": %.3f},\n", name, p99s.size(),
              p99s[p99s.size() / 2], p99s.back());
}

int run(const Options& o) {
  if (o.create) create_topic(o);

  int64_t records = o.seconds > 0 ? static_cast<int64_t>(o.rate_mibs * 1048576.0 * o.seconds / o.record_size)
                                  : o.bytes / o.record_size;
  if (records < 1) records = 1;

  ProduceState st;
  st.latencies_ns.reserve(static_cast<size_t>(records));
  // Several instances spread the client's work over cores: librdkafka runs one
  // thread per broker connection, and with thousands of partitions that thread is
  // the bottleneck of a single instance.
  std::vector<std::unique_ptr<ProducerSlot>> producers;
  for (int n = 0; n < o.producers; ++n) {
    auto slot = std::make_unique<ProducerSlot>();
    slot->state = &st;
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", o.bootstrap);
    set(conf, "acks", "all");
    set(conf, "linger.ms", std::to_string(o.linger_ms));
    set(conf, "compression.type", "none");
    set(conf, "message.timeout.ms", "300000");
    set(conf, "queue.buffering.max.messages", std::to_string(200000 / o.producers));
    set(conf, "queue.buffering.max.kbytes", std::to_string(1048576 / o.producers));
    set(conf, "batch.size", "1048576");
    if (o.backpressure_threshold > 0) {
      set(conf, "queue.buffering.backpressure.threshold", std::to_string(o.backpressure_threshold));
    }
    set(conf, "log_level", "3");
    set(conf, "statistics.interval.ms", "1000");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    rd_kafka_conf_set_opaque(conf, slot.get());
    slot->handle.rk = make_client(RD_KAFKA_PRODUCER, conf);
    producers.push_back(std::move(slot));
  }
  auto poll_all = [&](int timeout_ms) {
    for (auto& p : producers) rd_kafka_poll(p->handle.rk, timeout_ms);
  };
  auto outq_len = [&] {
    int64_t n = 0;
    for (auto& p : producers) n += rd_kafka_outq_len(p->handle.rk);
    return n;
  };

  std::unique_ptr<E2eConsumer> consumer;
  if (o.e2e) consumer = std::make_unique<E2eConsumer>(o, records);

  // The value: send time (8 bytes), sequence (8 bytes), then incompressible filler.
  std::vector<char> value(static_cast<size_t>(o.record_size));
  std::mt19937_64 rng(42);
  for (auto& c : value) c = static_cast<char>(rng());

  // Before measuring, with --e2e: one primer record (sequence -1) to every
  // partition, and a wait until the consumer has read each, so it is fetching
  // every partition. A consumer assigned 10,000 partitions first looks up each
  // one's start, and with both cores busy librdkafka can take seconds, even
  // 16 s, to send the last of those lookups (bench README): that is the
  // client's start, not the end-to-end latency this measures.
  int primed = -1;
  std::vector<int64_t> requests_before(producers.size(), 0);
  if (consumer) {
    st.measure_from_ns = INT64_MAX;
    for (int32_t p = 0; p < o.partitions; ++p) {
      const int64_t sent = now_ns();
      const int64_t primer = -1;
      std::memcpy(value.data(), &sent, 8);
      std::memcpy(value.data() + 8, &primer, 8);
      rd_kafka_t* rk = producers[static_cast<size_t>(p % o.producers)]->handle.rk;
      rd_kafka_resp_err_t err;
      while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(o.topic.c_str()), RD_KAFKA_V_PARTITION(p),
                                      RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<intptr_t>(sent))),
                                      RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 10);
      }
      if (err) throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(err));
    }
    for (auto& p : producers) rd_kafka_flush(p->handle.rk, 60000);
    primed = consumer->wait_primed(now_ns() + 60'000'000'000LL);
    if (primed < o.partitions) {
      std::fprintf(stderr, "consumer read primers from %d of %d partitions in 60 s; measuring anyway\n", primed,
                   o.partitions);
    }
    // One more statistics callback, so that the primers' requests are not counted.
    for (int64_t until = now_ns() + 1'200'000'000LL; now_ns() < until;) poll_all(20);
    for (size_t k = 0; k < producers.size(); ++k) requests_before[k] = producers[k]->requests_sent;
    st.delivered = 0;
  }

  const double bytes_per_ns = o.rate_mibs * 1048576.0 / 1e9;
  const int64_t start = now_ns();
  st.measure_from_ns = start + static_cast<int64_t>(o.warmup_s * 1e9);
  if (consumer) consumer->set_measure_from(st.measure_from_ns);
  int64_t next_report = start + 5'000'000'000LL;
  const int64_t stop_at = o.max_seconds > 0 ? start + static_cast<int64_t>(o.max_seconds * 1e9) : INT64_MAX;
  int64_t queue_full = 0;
  bool cut_short = false;

  int64_t i = 0;
  while (i < records) {
    int64_t now = now_ns();
    if (now >= stop_at) {
      cut_short = true;
      break;
    }
    int64_t allowed = records;
    if (bytes_per_ns > 0) {
      allowed = std::min<int64_t>(records, static_cast<int64_t>(static_cast<double>(now - start) * bytes_per_ns /
                                                                o.record_size) + 1);
    }
    if (i >= allowed) {
      poll_all(0);
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      continue;
    }
    for (; i < allowed; ++i) {
      int64_t sent = now_ns();
      std::memcpy(value.data(), &sent, 8);
      std::memcpy(value.data() + 8, &i, 8);
      const auto partition = static_cast<int32_t>(i % o.partitions);
      rd_kafka_t* rk = producers[static_cast<size_t>(partition % o.producers)]->handle.rk;
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(o.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<intptr_t>(sent))), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        ++queue_full;
        rd_kafka_poll(rk, 1);
        break;  // retry this record
      }
      if (err) throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(err));
      if ((i & 1023) == 0) poll_all(0);
    }
    if (now_ns() > next_report) {
      next_report += 5'000'000'000LL;
      std::fprintf(stderr, "  %.0f s: %" PRId64 " sent, %" PRId64 " delivered\n", (now_ns() - start) / 1e9, i,
                   st.delivered);
    }
  }
  const int64_t sent_records = i;
  if (consumer && cut_short) consumer->expect(sent_records);
  const int64_t send_end = now_ns();
  while (outq_len() > 0) {
    poll_all(10);
    if (now_ns() - send_end > int64_t{o.drain_s} * 1'000'000'000LL) break;
  }
  for (auto& p : producers) {
    rd_kafka_flush(p->handle.rk, 1000);
    if (rd_kafka_outq_len(p->handle.rk) > 0) {  // gave up waiting: fail the rest now
      rd_kafka_purge(p->handle.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(p->handle.rk, 0);
    }
  }
  // One more statistics callback, to count the last requests.
  for (int64_t until = now_ns() + 1'200'000'000LL; now_ns() < until;) poll_all(20);
  int64_t requests_sent = 0;
  for (size_t k = 0; k < producers.size(); ++k) {
    const auto& p = producers[k];
    if (p->requests_sent < 0 || requests_sent < 0 || requests_before[k] < 0) {
      requests_sent = -1;  // some instance never reported
    } else {
      requests_sent += p->requests_sent - requests_before[k];
    }
  }

  std::vector<double> queue_p99, rtt_p99;
  for (auto& p : producers) {
    queue_p99.insert(queue_p99.end(), p->queue_p99_ms.begin(), p->queue_p99_ms.end());
    rtt_p99.insert(rtt_p99.end(), p->rtt_p99_ms.begin(), p->rtt_p99_ms.end());
  }

  int64_t consumed = 0;
  std::vector<int64_t> e2e;
  int64_t consumer_errors = 0;
  if (consumer) {
    consumed = consumer->wait_all(now_ns() + int64_t{o.consumer_wait_s} * 1'000'000'000LL);
    e2e = consumer->take_latencies();
    consumer_errors = consumer->errors();
    consumer.reset();
  }

  const double seconds = static_cast<double>(std::max<int64_t>(1, st.last_delivery_ns - start)) / 1e9;
  const double mib = static_cast<double>(st.delivered) * o.record_size / 1048576.0;
  Percentiles pl = percentiles(st.latencies_ns);
  Percentiles pe = percentiles(e2e);
  std::printf("{\n");
  std::printf("  \"topic\": \"%s\", \"partitions\": %d, \"record_size\": %d,\n", o.topic.c_str(), o.partitions,
              o.record_size);
  std::printf("  \"target_rate_mibs\": %.3f, \"linger_ms\": %d, \"warmup_s\": %.3f,\n", o.rate_mibs, o.linger_ms,
              o.warmup_s);
  std::printf("  \"records\": %" PRId64 ", \"sent\": %" PRId64 ", \"cut_short\": %s, \"delivered\": %" PRId64 ", \"errors\": %" PRId64
              ", \"first_error\": \"%s\", \"queue_full\": %" PRId64 ",\n",
              records, sent_records, cut_short ? "true" : "false", st.delivered, st.errors, st.first_error.c_str(), queue_full);
  std::printf("  \"producers\": %d, \"produce_requests\": %" PRId64 ", \"records_per_request\": %.2f,\n",
              o.producers, requests_sent,
              requests_sent > 0 ? static_cast<double>(st.delivered) / static_cast<double>(requests_sent) : 0.0);
  std::printf("  \"backpressure_threshold\": %d,\n", o.backpressure_threshold);
  print_windows("client_queue_p99_ms", queue_p99);
  print_windows("broker_rtt_p99_ms", rtt_p99);
  std::printf("  \"seconds\": %.3f, \"mib\": %.3f, \"mib_per_s\": %.3f, \"records_per_s\": %.1f,\n", seconds, mib,
              mib / seconds, static_cast<double>(st.delivered) / seconds);
  if (o.e2e) {
    std::printf("  \"consumed\": %" PRId64 ", \"consumer_errors\": %" PRId64 ", \"consumer_primed_partitions\": %d,\n",
                consumed, consumer_errors, primed);
    print_percentiles("e2e_latency", pe, false);
  }
  print_percentiles("produce_latency", pl, true);
  std::printf("}\n");
  std::fflush(stdout);
  return st.errors == 0 && (!o.e2e || consumed == sent_records) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "floe_load: %s\n", e.what());
    return 2;
  }
}
