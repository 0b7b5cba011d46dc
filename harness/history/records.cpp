#include "harness/history/records.h"

#include <fmt/format.h>

#include "harness/stats.h"
#include "model/error.h"

namespace bitlab::history {
namespace {

// The statistics harness/stats.cpp writes into a result (the middle of the
// sorted samples; sd with n - 1), recomputed from the samples so that a
// file's own "stats" need not be trusted.
Measurement summarise(const cli::ResultTiming& t) {
  Measurement m;
  m.key = t.key;
  m.kind = t.kind;
  m.backend = t.backend;
  m.variant = t.variant;
  const Stats st = summarize(t.samples);
  m.samples = st.count;
  m.median = st.median;
  m.mean = st.mean;
  m.sd = st.stddev;
  m.tokens_per_s = t.tokens_per_s;
  m.roofline_fraction = t.roofline_fraction;
  return m;
}

}  // namespace

Record record_from(const cli::ResultDoc& doc) {
  if (doc.timestamp.empty())
    throw UsageError(fmt::format("{}: context.timestamp: missing (a history run is keyed on it)", doc.path));
  Record r;
  r.run.file_hash = fmt::format("{:016x}", doc.content_hash);
  r.run.source_path = doc.path;
  r.run.commit = doc.commit;
  r.run.dirty = doc.dirty;
  r.run.timestamp = doc.timestamp;
  r.run.command = doc.command;
  r.run.cpu_model = doc.cpu_model;
  r.run.bandwidth_gbps = doc.bandwidth_gbps;
  r.run.threads = doc.threads;
  for (const cli::ResultTiming& t : doc.measurements) r.measurements.push_back(summarise(t));
  return r;
}

}  // namespace bitlab::history
