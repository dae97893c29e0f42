// Pipeline files: what is read, what is expanded, and where each error points.
#include "pipeline_file.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

using namespace tributary;
using namespace tributary::core;

namespace {
PipelineDecl parse(const std::string& text, LoadOptions options = {}) {
  if (!options.environment) {
    options.environment = [](const std::string& name) -> std::optional<std::string> {
      if (name == "DATA") return std::string("/data");
      return std::nullopt;
    };
  }
  return parse_pipeline(text, "p.toml", options);
}

std::vector<Diagnostic> errors(const std::string& text, LoadOptions options = {}) {
  try {
    parse(text, std::move(options));
  } catch (const PipelineError& e) {
    return e.diagnostics();
  }
  return {};
}
}  // namespace

TEST_CASE("a pipeline file declares its name, links and nodes with their parameters") {
  auto decl = parse(R"(
[pipeline]
name = "kws"
links = [ "clips -> mfcc", "mfcc.out -> log.in", { from = "mfcc", to = "dash", capacity = 4, policy = "drop_oldest" } ]

[nodes.clips]
plugin = "table"
path = "${DATA}/iris.csv"

[nodes.mfcc]
plugin = "mfcc"
n_mfcc = 40
model = { kind = "cnn", channels = [64, 64] }
)");
  CHECK(decl.name == "kws");
  REQUIRE(decl.links.size() == 3);
  CHECK(decl.links[0].from_node == "clips");
  CHECK(decl.links[0].to_node == "mfcc");
  CHECK(decl.links[0].from_port.empty());
  CHECK(decl.links[1].from_port == "out");
  CHECK(decl.links[1].to_port == "in");
  CHECK(decl.links[2].capacity == 4);
  CHECK(decl.links[2].policy == QueuePolicy::drop_oldest);
  const NodeDecl* clips = decl.find_node("clips");
  REQUIRE(clips != nullptr);
  CHECK(clips->plugin == "table");
  CHECK(clips->params.at(0).value.as_string() == "/data/iris.csv");
  const NodeDecl* mfcc = decl.find_node("mfcc");
  CHECK(mfcc->locate("n_mfcc").to_string() == "p.toml:12:10");
  CHECK(mfcc->locate("model.kind").line == 13);
  CHECK(mfcc->locate("model.channels[1]").line == 13);
}

TEST_CASE("the pipeline name defaults to the file's name") {
  auto decl = parse("[nodes.a]\nplugin = \"x\"\n");
  CHECK(decl.name == "p");
}

TEST_CASE("a default in ${VAR:-default} fills in for an unset variable, and RUN_DIR and RUN_ID come from the run") {
  LoadOptions options;
  options.run_variables = [](const std::string& name) {
    return std::map<std::string, std::string>{{"RUN_DIR", "/runs/" + name + "/1"}, {"RUN_ID", "1"}};
  };
  auto decl = parse(R"(
[pipeline]
name = "x"
[nodes.log]
plugin = "csv"
path = "${RUN_DIR}/metrics.csv"
other = "${NOPE:-fallback}"
)",
                    options);
  const NodeDecl* log = decl.find_node("log");
  CHECK(log->params[1].value.as_string() == "/runs/x/1/metrics.csv");
  CHECK(log->params[0].value.as_string() == "fallback");
  CHECK(decl.expanded_toml.find("/runs/x/1/metrics.csv") != std::string::npos);
}

TEST_CASE("an override with --set changes any parameter, including the plugin, with TOML or plain text values") {
  LoadOptions options;
  options.overrides = {"a.plugin=table", "a.count=40", "a.path=data/x y.csv", "a.model.kind=mlp", "a.lr=0.5"};
  auto decl = parse("[nodes.a]\nplugin = \"synthetic\"\ncount = 3\n", options);
  const NodeDecl* a = decl.find_node("a");
  CHECK(a->plugin == "table");
  auto find = [&](const std::string& key) {
    for (const auto& e : a->params) {
      if (e.key == key) return e.value;
    }
    return Value();
  };
  CHECK(find("count") == Value(40));
  CHECK(find("path") == Value("data/x y.csv"));
  CHECK(find("lr") == Value(0.5));
  CHECK(find("model").find("kind")->as_string() == "mlp");
  CHECK(a->locate("count").file == "--set a.count=40");
  CHECK(decl.expanded_toml.find("plugin = 'table'") != std::string::npos);
}

TEST_CASE("each mistake in a pipeline file is reported where it is, with a hint") {
  SECTION("invalid TOML") {
    auto e = errors("[pipeline]\nname = \"x\nlinks = []\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].where.line == 2);
    CHECK(e[0].message.rfind("invalid TOML", 0) == 0);
  }
  SECTION("an unknown table") {
    auto e = errors("[pipline]\nname = \"x\"\n[nodes.a]\nplugin = \"x\"\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].message == "unknown table 'pipline'");
    CHECK(e[0].hint == "did you mean 'pipeline'?");
    CHECK(e[0].where.to_string() == "p.toml:1:2");
  }
  SECTION("an unknown pipeline setting") {
    auto e = errors("[pipeline]\nlink = []\n[nodes.a]\nplugin = \"x\"\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].hint == "did you mean 'links'?");
    CHECK(e[0].where.line == 2);
  }
  SECTION("a malformed link") {
    auto e = errors("[pipeline]\nlinks = [\"a => b\"]\n[nodes.a]\nplugin = \"x\"\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].message == "link \"a => b\" must be written \"node[.port] -> node[.port]\"");
    CHECK(e[0].where.to_string() == "p.toml:2:10");
  }
  SECTION("an unknown queue policy") {
    auto e =
        errors("[pipeline]\nlinks = [{from = \"a\", to = \"b\", policy = \"drop_olde\"}]\n[nodes.a]\nplugin = \"x\"\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].hint == "did you mean 'drop_oldest'?");
  }
  SECTION("a node without a plugin") {
    auto e = errors("[nodes.a]\ncount = 3\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].message == "node 'a' has no plugin");
    CHECK(e[0].where.line == 1);
  }
  SECTION("an unset environment variable") {
    auto e = errors("[nodes.a]\nplugin = \"x\"\npath = \"${HOME_DIR_X}/a\"\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].message == "environment variable 'HOME_DIR_X' is not set");
    CHECK(e[0].where.to_string() == "p.toml:3:8");
  }
  SECTION("nodes that are not tables") {
    auto e = errors("nodes = 3\n[pipeline]\nname = \"x\"\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].message == "'nodes' must hold one table per node");
    CHECK(e[0].where.line == 1);
  }
  SECTION("sizes beyond what a run can hold") {
    auto e = errors(
        "[pipeline]\nqueue_capacity = 9223372036854775807\nthreads = 1024\n"
        "links = [{from = \"a\", to = \"b\", capacity = 1000000000}]\n[nodes.a]\nplugin = \"x\"\n");
    REQUIRE(e.size() == 3);
    CHECK(e[0].message == "'queue_capacity' must be an integer between 1 and 100000 (packets held per link)");
    CHECK(e[1].message == "'threads' must be an integer between 0 (one per core) and 256");
    CHECK(e[2].message == "a link's capacity must be between 1 and 100000 packets");
    CHECK(e[2].where.line == 4);
  }
  SECTION("a pipeline name too long for a folder") {
    auto e = errors("[pipeline]\nname = \"" + std::string(300, 'a') + "\"\n[nodes.a]\nplugin = \"x\"\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].message ==
          "pipeline name \"aaaaaaaaaaaaaaaaaaaa...\" is 300 characters long, more than the 100 a run "
          "folder takes");
    CHECK(e[0].where.line == 2);
  }
  SECTION("no nodes at all") {
    auto e = errors("[pipeline]\nname = \"x\"\n");
    REQUIRE(e.size() == 1);
    CHECK(e[0].message == "the pipeline declares no nodes");
  }
  SECTION("an override of a node that does not exist") {
    LoadOptions options;
    options.overrides = {"trian.lr=0.1"};
    auto e = errors("[nodes.train]\nplugin = \"x\"\n", options);
    REQUIRE(e.size() == 1);
    CHECK(e[0].where.file == "--set trian.lr=0.1");
    CHECK(e[0].hint == "did you mean 'train'?");
  }
  SECTION("several mistakes are all reported at once") {
    auto e = errors("[pipeline]\nlink = []\nthreads = -1\n[nodes.a]\ncount = 1\n");
    CHECK(e.size() == 3);
  }
}

TEST_CASE("a pipeline setting is overridden with --set pipeline.KEY=VALUE, even one the file lacks") {
  LoadOptions options;
  options.overrides = {"pipeline.threads=3", "pipeline.name=renamed", "pipeline.links=[\"a -> b\"]"};
  std::string seen_name;
  options.run_variables = [&](const std::string& name) {
    seen_name = name;
    return std::map<std::string, std::string>{};
  };
  auto decl = parse("[nodes.a]\nplugin = \"x\"\n[nodes.b]\nplugin = \"y\"\n", options);
  CHECK(decl.threads == 3);
  CHECK(decl.name == "renamed");
  CHECK(seen_name == "renamed");  // the run directory is named after the override
  REQUIRE(decl.links.size() == 1);
  CHECK(decl.links[0].where.file == "--set pipeline.links=[\"a -> b\"]");
  CHECK(decl.where.to_string() == "p.toml:1:1");
  CHECK(decl.expanded_toml.find("threads = 3") != std::string::npos);

  LoadOptions bad;
  bad.overrides = {"pipeline.thread=3", "pipeline.a.b=1"};
  auto e = errors("[nodes.a]\nplugin = \"x\"\n", bad);
  REQUIRE(e.size() == 2);
  auto typo =
      std::find_if(e.begin(), e.end(), [](const Diagnostic& d) { return d.where.file == "--set pipeline.thread=3"; });
  REQUIRE(typo != e.end());
  CHECK(typo->hint == "did you mean 'threads'?");
  auto dotted =
      std::find_if(e.begin(), e.end(), [](const Diagnostic& d) { return d.where.file == "--set pipeline.a.b=1"; });
  REQUIRE(dotted != e.end());
  CHECK(dotted->message == "'a.b' is not a pipeline setting");
}
