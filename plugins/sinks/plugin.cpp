// The sinks family: nodes that export what reaches them, the checkpoint writer, the dashboard.
#include "tributary/plugin.hpp"

#include "checkpoint/checkpoint.hpp"
#include "csv/csv.hpp"
#include "jsonl/jsonl.hpp"
#include "plot_server/plot_server.hpp"

TRIBUTARY_PLUGIN("sinks") {
  registrar.add<tributary::sinks::CsvSink>();
  registrar.add<tributary::sinks::JsonLinesSink>();
  registrar.add<tributary::sinks::CheckpointSink>();
  registrar.add<tributary::sinks::PlotServer>();
}
