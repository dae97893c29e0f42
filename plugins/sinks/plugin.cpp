// The sinks family: nodes that export what reaches them.
#include "csv/csv.hpp"
#include "jsonl/jsonl.hpp"
#include "tributary/plugin.hpp"

TRIBUTARY_PLUGIN("sinks") {
  registrar.add<tributary::sinks::CsvSink>();
  registrar.add<tributary::sinks::JsonLinesSink>();
}
