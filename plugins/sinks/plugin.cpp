// The sinks family: nodes that export what reaches them.
#include "tributary/plugin.hpp"

#include "csv/csv.hpp"
#include "jsonl/jsonl.hpp"

TRIBUTARY_PLUGIN("sinks") {
  registrar.add<tributary::sinks::CsvSink>();
  registrar.add<tributary::sinks::JsonLinesSink>();
}
