// A result document as the history stores it: the run's context and, per
// measurement, the summary a trend follows (the samples themselves stay in
// the result file).
#pragma once
#include <vector>

#include "harness/history/store.h"
#include "harness/result_reader.h"

namespace bitlab::history {

struct Record {
  Run run;
  std::vector<Measurement> measurements;
};

// Throws UsageError (as the reader does) naming the file when the document lacks what a run is
// keyed on (its timestamp).
Record record_from(const cli::ResultDoc& doc);

}  // namespace bitlab::history
