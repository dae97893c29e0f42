// The sinks family: nodes that export what reaches them, and the checkpoint writer.
#include "tributary/plugin.hpp"

#include "checkpoint/checkpoint.hpp"
#include "csv/csv.hpp"
#include "jsonl/jsonl.hpp"

TRIBUTARY_PLUGIN("sinks") {
  registrar.add<tributary::sinks::CsvSink>();
  registrar.add<tributary::sinks::JsonLinesSink>();
  registrar.add<tributary::sinks::CheckpointSink>();
}
