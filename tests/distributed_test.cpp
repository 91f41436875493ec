// Data parallelism (src/distributed/): sharding, the gradient reducer, sharded evaluation and the trainer, with
// Gloo ranks as threads of this process over one in-memory store; then the CLI with real processes
// (--nproc, the torchrun environment, a killed rank).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "cli_util.h"
#include "netadj/distributed/distributed.h"
#include "netadj/nets/builder.h"
#include "netadj/search/search.h"
#include "netadj/train/sgd.h"
#include "netadj/train/train.h"
#include "test_util.h"

using namespace netadj;
using nlohmann::json;
using testing_util::small_config;

namespace {

// Runs body(world) on `n` ranks, one thread each, joined over one HashStore.
// Torch's flight recorder (one per process) records each process group's first collective into a map outside
// its lock: harmless with one group per process, a data race with ranks as threads. The tests turn it off before
// the first group exists.
void on_ranks(int n, const std::function<void(const dist::World&)>& body) {
  setenv("TORCH_FR_BUFFER_SIZE", "0", 1);
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::thread> threads;
  std::vector<std::string> errors(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        dist::World w = dist::World::over_store(store, r, n, std::chrono::seconds(60));
        body(w);
      } catch (const std::exception& e) {
        errors[size_t(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < n; ++r) EXPECT_EQ(errors[size_t(r)], "") << "rank " << r;
}

GraphNet net_with_seed(const ArchSpec& spec, uint64_t seed) {
  torch::manual_seed(seed);
  return GraphNet(spec);
}

void expect_same_parameters(GraphNet& a, GraphNet& b, double tol) {
  auto pa = a->named_parameters(), pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_TRUE(torch::allclose(pa[i].value(), pb[i].value(), 0.0, tol))
        << pa[i].key() << ": max diff " << (pa[i].value() - pb[i].value()).abs().max().item<double>();
}

// ResNet-8 of small_config() and a seeded batch of 16 that two ranks split in halves.
struct TwoHalves {
  Config c = small_config();
  ArchSpec spec = build_spec(c.model, 12);
  torch::Tensor x, y;
  explicit TwoHalves(uint64_t seed) {
    torch::manual_seed(seed);
    x = torch::randn({16, 1, 12, 12});
    y = torch::randint(0, 4, {16});
  }
  torch::Tensor loss(GraphNet& net, int half) const {
    return torch::nn::functional::cross_entropy(net->forward(x.narrow(0, 8 * half, 8)), y.narrow(0, 8 * half, 8));
  }
};

// One data-parallel SGD step of rank w on its half of the batch; returns the reducer's bucket count.
size_t rank_step(const dist::World& w, GraphNet& net, const TwoHalves& b, double lr, double bucket_mb = 4.0) {
  net->train();
  auto ps = net->parameters();
  dist::GradSync sync(w, ps, bucket_mb);
  Sgd opt(ps, sgd_options(b.c.train));
  opt.zero_grad();
  auto loss = b.loss(net, w.rank());
  sync.begin();
  loss.backward();
  sync.finish();
  opt.step(lr);
  return sync.buckets();
}

// Waits (up to 300 s) for a file a child process writes.
bool wait_for_file(const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (!file_exists(path) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return file_exists(path);
}

}  // namespace

TEST(Dist, ShardsPartitionEvaluationAndPadTraining) {
  for (int64_t n : {1, 7, 10, 12}) {
    for (int world : {1, 2, 3, 5}) {
      std::multiset<int64_t> eval, train;
      size_t per_rank = 0;
      for (int r = 0; r < world; ++r) {
        for (int64_t p : shard_positions(n, r, world, false)) eval.insert(p);
        auto t = shard_positions(n, r, world, true);
        if (r == 0) per_rank = t.size();
        EXPECT_EQ(t.size(), per_rank) << "every rank takes as many training steps";
        for (int64_t p : t) train.insert(p);
      }
      std::multiset<int64_t> all;
      for (int64_t i = 0; i < n; ++i) all.insert(i);
      EXPECT_EQ(eval, all) << "n " << n << " world " << world;
      EXPECT_EQ(int64_t(per_rank), (n + world - 1) / world);
      for (int64_t i = 0; i < n; ++i) EXPECT_GE(train.count(i), 1u);  // the padding wraps around
    }
  }
  EXPECT_EQ(shard_positions(5, 1, 2, true), (std::vector<int64_t>{1, 3, 0}));
}

// What torchrun sets, read strictly: a malformed or missing variable is a usage error naming it.
TEST(Dist, EnvironmentIsReadStrictly) {
  const std::vector<std::string> vars = {"RANK",        "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
                                         "MASTER_ADDR", "MASTER_PORT"};
  auto set = [&](const std::vector<std::string>& values) {
    for (size_t i = 0; i < vars.size(); ++i) {
      if (values[i].empty())
        ::unsetenv(vars[i].c_str());
      else
        ::setenv(vars[i].c_str(), values[i].c_str(), 1);
    }
  };
  set({"", "", "", "", "", ""});
  EXPECT_FALSE(dist::read_env().present);
  set({"3", "4", "1", "2", "node0", "29500"});
  dist::Env e = dist::read_env();
  EXPECT_TRUE(e.present);
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world, 4);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world, 2);
  EXPECT_EQ(e.master_addr, "node0");
  EXPECT_EQ(e.master_port, 29500);
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"4", "4", "0", "1", "h", "1"}, "RANK"},
      {{"0", "0", "0", "1", "h", "1"}, "WORLD_SIZE"},
      {{"0", "2x", "0", "1", "h", "1"}, "WORLD_SIZE"},
      {{"0", "2", "", "", "h", "70000"}, "MASTER_PORT"},
      {{"0", "2", "2", "2", "h", "1"}, "LOCAL_RANK"},
      {{"0", "2", "0", "3", "h", "1"}, "LOCAL_WORLD_SIZE"},
      {{"0", "2", "0", "1", "", "1"}, "MASTER_ADDR"},
      {{"-1", "2", "0", "1", "h", "1"}, "RANK"},
      {{"0", "", "0", "1", "h", "1"}, "WORLD_SIZE"},
      {{"0", "2", "0", "1", "h", ""}, "MASTER_PORT"},
      {{"0", "99999999999999999999", "0", "1", "h", "1"}, "WORLD_SIZE"}};
  for (const auto& [values, var] : bad) {
    set(values);
    try {
      dist::read_env();
      ADD_FAILURE() << "accepted " << json(values).dump();
    } catch (const ConfigError& err) {
      EXPECT_EQ(std::string(err.what()).rfind(var, 0), 0u) << err.what();
    }
  }
  set({"", "", "", "", "", ""});
}

TEST(Dist, OneStepOnTwoRanksEqualsTheAveragedHalves) {
  const TwoHalves b(11);
  const double lr = 0.1;
  // The reference: one process, each half through the network separately (its own BatchNorm statistics),
  // the mean of the two gradients, one SGD step.
  GraphNet ref = net_with_seed(b.spec, 5);
  ref->train();
  auto params = ref->parameters();
  std::vector<torch::Tensor> mean(params.size());
  for (int half = 0; half < 2; ++half) {
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    b.loss(ref, half).backward();
    for (size_t i = 0; i < params.size(); ++i)
      mean[i] = half == 0 ? params[i].grad().clone() : (mean[i] + params[i].grad()) / 2;
  }
  for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = mean[i];
  Sgd ref_opt(params, sgd_options(b.c.train));
  ref_opt.step(lr);

  std::vector<GraphNet> nets = {net_with_seed(b.spec, 5), net_with_seed(b.spec, 5)};
  std::vector<size_t> buckets(2);
  on_ranks(2, [&](const dist::World& w) {
    // Several buckets for ResNet-8's 300 kB.
    buckets[size_t(w.rank())] = rank_step(w, nets[size_t(w.rank())], b, lr, /*bucket_mb=*/0.05);
  });
  EXPECT_GT(buckets[0], 2u);
  expect_same_parameters(nets[0], ref, 1e-5);
  expect_same_parameters(nets[1], ref, 1e-5);
}

// train.sync_bn: two ranks with half a batch each equal one process with the whole batch, running statistics
// included.
TEST(Dist, SyncBatchNormOnTwoRanksEqualsOneProcessWithTheWholeBatch) {
  const TwoHalves b(12);
  GraphNet ref = net_with_seed(b.spec, 5);
  ref->train();
  Sgd ref_opt(ref->parameters(), sgd_options(b.c.train));
  torch::nn::functional::cross_entropy(ref->forward(b.x), b.y).backward();
  ref_opt.step(0.1);

  std::vector<GraphNet> nets = {net_with_seed(b.spec, 5), net_with_seed(b.spec, 5)};
  on_ranks(2, [&](const dist::World& w) {
    GraphNet& net = nets[size_t(w.rank())];
    net->set_sync_bn(&w);
    rank_step(w, net, b, 0.1);
    net->set_sync_bn(nullptr);
  });
  for (auto& net : nets) {
    expect_same_parameters(net, ref, 1e-5);
    auto b = net->named_buffers(), rb = ref->named_buffers();
    for (size_t i = 0; i < b.size(); ++i)
      EXPECT_TRUE(torch::allclose(b[i].value().to(torch::kDouble), rb[i].value().to(torch::kDouble), 0.0, 1e-5))
          << b[i].key();
  }
}

// A parameter used on one rank only gets the ranks' mean (its gradient there, halved); one used on none
// keeps no gradient, as in one process.
TEST(Dist, GradientsOfParametersUsedOnSomeRanksOrNone) {
  std::vector<std::vector<torch::Tensor>> grads(2);
  on_ranks(2, [&](const dist::World& w) {
    std::vector<torch::Tensor> ps = {torch::full({3}, 1.0).requires_grad_(), torch::full({2}, 2.0).requires_grad_(),
                                     torch::zeros({4}).requires_grad_()};
    dist::GradSync sync(w, ps, /*bucket_mb=*/1e-6);  // a bucket per parameter
    sync.begin();
    torch::Tensor loss = (ps[0] * double(w.rank() + 1)).sum();
    if (w.rank() == 0) loss = loss + (ps[1] * 3.0).sum();
    loss.backward();
    sync.finish();
    for (auto& p : ps) grads[size_t(w.rank())].push_back(p.grad());
  });
  for (const auto& g : grads) {
    ASSERT_EQ(g.size(), 3u);
    EXPECT_TRUE(torch::allclose(g[0], torch::full({3}, 1.5)));  // (1 + 2) / 2
    ASSERT_TRUE(g[1].defined());
    EXPECT_TRUE(torch::allclose(g[1], torch::full({2}, 1.5)));  // (3 + nothing) / 2
    EXPECT_FALSE(g[2].defined());
  }
}

TEST(Dist, BroadcastStateGivesEveryRankRankZerosWeightsAndBuffers) {
  Config c = small_config();
  ArchSpec spec = build_spec(c.model, 12);
  std::vector<GraphNet> nets = {net_with_seed(spec, 1), net_with_seed(spec, 2)};
  nets[0]->train();
  nets[0]->forward(torch::randn({4, 1, 12, 12}));  // running statistics that rank 1 does not have
  on_ranks(2, [&](const dist::World& w) { dist::broadcast_state(w, *nets[size_t(w.rank())]); });
  expect_same_parameters(nets[0], nets[1], 0.0);
  auto b0 = nets[0]->buffers(), b1 = nets[1]->buffers();
  ASSERT_EQ(b0.size(), b1.size());
  for (size_t i = 0; i < b0.size(); ++i) EXPECT_TRUE(b0[i].equal(b1[i])) << "buffer " << i;
}

TEST(Dist, ShardedEvaluationEqualsOneProcess) {
  Config c = small_config();
  DataModule data(c.data, c.runtime.seed);
  ArchSpec spec = build_spec(c.model, 12);
  GraphNet one = net_with_seed(spec, 4);
  auto src = data.loader(Split::kVal, {32, false, torch::kCPU, 0});
  EvalResult want = evaluate(one, *src, torch::kCPU, AmpMode::kOff);
  const int n = 3;  // 128 images: shares of 43, 43 and 42
  std::vector<GraphNet> nets;
  for (int r = 0; r < n; ++r) nets.push_back(net_with_seed(spec, 4));
  std::vector<EvalResult> got(static_cast<size_t>(n));
  on_ranks(n, [&](const dist::World& w) {
    auto shard = data.loader(Split::kVal, {32, false, torch::kCPU, 0, w.rank(), w.size()});
    EXPECT_LT(shard->size(), 128);
    got[size_t(w.rank())] = evaluate(nets[size_t(w.rank())], *shard, torch::kCPU, AmpMode::kOff, &w);
  });
  for (const auto& g : got) {
    EXPECT_EQ(g.n, want.n);
    EXPECT_DOUBLE_EQ(g.top1 * double(g.n), want.top1 * double(want.n));
    EXPECT_DOUBLE_EQ(g.top5 * double(g.n), want.top5 * double(want.n));
    EXPECT_NEAR(g.loss, want.loss, 1e-6);
  }
}

TEST(Dist, TrainerOnTwoRanksKeepsTheirWeightsEqual) {
  Config c = small_config();
  c.train.drop.rate = 0;
  DataModule data(c.data, c.runtime.seed);
  ArchSpec spec = build_spec(c.model, 12);
  std::vector<GraphNet> nets = {net_with_seed(spec, 1), net_with_seed(spec, 2)};  // rank 0's weights win
  std::vector<TrainResult> results(2);
  // Each rank is given its own files: only rank 0 writes (its checkpoint and metrics), rank 1 nothing.
  const std::string d = testing_util::fresh_dir("dist_trainer_writes");
  on_ranks(2, [&](const dist::World& w) {
    Trainer trainer(trainer_options(c), data, torch::kCPU);
    TrainPlan plan;
    plan.epochs = 1;
    plan.seed = 7;
    plan.world = &w;
    plan.test_at_end = false;
    plan.checkpoint = d + "/rank" + std::to_string(w.rank()) + ".pt";
    plan.metrics_file = d + "/rank" + std::to_string(w.rank()) + ".jsonl";
    results[size_t(w.rank())] = trainer.run(nets[size_t(w.rank())], plan);
  });
  EXPECT_TRUE(file_exists(d + "/rank0.pt"));
  EXPECT_TRUE(file_exists(d + "/rank0.jsonl"));
  EXPECT_FALSE(file_exists(d + "/rank1.pt"));
  EXPECT_FALSE(file_exists(d + "/rank1.jsonl"));
  expect_same_parameters(nets[0], nets[1], 1e-6);
  ASSERT_EQ(results[0].history.size(), 1u);
  ASSERT_EQ(results[1].history.size(), 1u);
  // Training loss and accuracy are over both shares; validation over the whole split: the same on both.
  EXPECT_EQ(results[0].history[0].train_loss, results[1].history[0].train_loss);
  EXPECT_EQ(results[0].history[0].val.n, 128);
  EXPECT_EQ(results[0].history[0].val.loss, results[1].history[0].val.loss);
}

TEST(Dist, GlobalBatchMustDivideAmongTheRanks) {
  Config c = small_config();  // batch 64
  DataModule data(c.data, c.runtime.seed);
  ArchSpec spec = build_spec(c.model, 12);
  std::vector<GraphNet> nets = {net_with_seed(spec, 1), net_with_seed(spec, 1), net_with_seed(spec, 1)};
  std::vector<std::string> errors(3);
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r)
    threads.emplace_back([&, r] {
      dist::World w = dist::World::over_store(store, r, 3, std::chrono::seconds(30));
      try {
        Trainer trainer(trainer_options(c), data, torch::kCPU);
        TrainPlan plan;
        plan.world = &w;
        trainer.run(nets[size_t(r)], plan);
      } catch (const ConfigError& e) {
        errors[size_t(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_NE(e.find("train.batch_size = 64"), std::string::npos) << e;
}

// ---- the command line, with real processes ------------------------------------------------------------

namespace {

using testing_util::run_cli_full;
const std::string kSmoke = std::string(NETADJ_SOURCE_DIR) + "/configs/smoke_synthetic.json";

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Starts the binary with extra environment variables; stderr goes to `err_file`.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env,
            const std::string& err_file) {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> copy = args;
    std::string bin = NETADJ_BINARY;
    std::vector<char*> argv{bin.data()};
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(err, 2);
    ::dup2(null, 1);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid` up to `limit`; its exit code, -signal, or 999 when it is still running (then killed).
int wait_for(pid_t pid, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return 999;
}

// The processes whose parent is `parent`, and the RANK in each one's environment.
std::vector<std::pair<pid_t, std::string>> ranks_of(pid_t parent) {
  std::vector<std::pair<pid_t, std::string>> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat;
    try {
      stat = read_file(e.path().string() + "/stat");
    } catch (const std::exception&) {
      continue;
    }
    auto close = stat.rfind(')');
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent) continue;
    std::string env;
    try {
      env = read_file(e.path().string() + "/environ");
    } catch (const std::exception&) {
      continue;
    }
    std::string rank;
    for (size_t i = 0; i < env.size();) {
      std::string var = env.c_str() + i;
      if (var.rfind("RANK=", 0) == 0) rank = var.substr(5);
      i += var.size() + 1;
    }
    out.emplace_back(std::stoi(name), rank);
  }
  return out;
}

}  // namespace

TEST(DistCli, FurOnTwoRanksEqualsOneRank) {
  std::string d = testing_util::fresh_dir("dist_fur");
  ASSERT_EQ(run_cli_full({"--quiet", "train", "-c", kSmoke, "--set", "train.epochs=1", "--set", "export.enabled=false",
                          "--out", d + "/train"})
                .status,
            0);
  auto fur = [&](const char* nproc) {
    auto r = run_cli_full({"--quiet", "fur", "-c", kSmoke, "--set", "fur.repeats=3", "--checkpoint",
                           d + "/train/model.pt", "--json", "--nproc", nproc});
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(r.out);
  };
  json one = fur("1"), two = fur("2");
  ASSERT_EQ(one["fur"].size(), two["fur"].size());
  for (size_t l = 0; l < one["fur"].size(); ++l) {
    EXPECT_NEAR(one["fur"][l].get<double>(), two["fur"][l].get<double>(), 1e-6) << "layer " << l;
    EXPECT_NEAR(one["fur_stderr"][l].get<double>(), two["fur_stderr"][l].get<double>(), 1e-6) << "layer " << l;
  }
  EXPECT_EQ(one["base"], two["base"]);
}

TEST(DistCli, SearchOnTwoRanksThroughNprocAndThroughTheEnvironment) {
  std::string d = testing_util::fresh_dir("dist_search");
  auto r = run_cli_full(
      {"--quiet", "search", "-c", kSmoke, "--set", "export.enabled=false", "--nproc", "2", "--out", d + "/nproc"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, d + "/nproc/best_channels.json\n");  // rank 0 alone prints
  json s = read_json(d + "/nproc/search.json");
  EXPECT_TRUE(s["done"].get<bool>());
  EXPECT_EQ(s["iterations"].size(), 2u);
  EXPECT_EQ(s["world_size"], 2);
  EXPECT_EQ(s["backend"], "gloo");

  // The same job started as torchrun starts it: two processes with RANK, WORLD_SIZE, MASTER_*.
  const std::string port = std::to_string(free_port());
  std::vector<pid_t> pids;
  for (int rank = 0; rank < 2; ++rank)
    pids.push_back(spawn({"--quiet", "search", "-c", kSmoke, "--set", "export.enabled=false", "--out", d + "/env"},
                         {{"RANK", std::to_string(rank)},
                          {"WORLD_SIZE", "2"},
                          {"LOCAL_RANK", std::to_string(rank)},
                          {"LOCAL_WORLD_SIZE", "2"},
                          {"MASTER_ADDR", "127.0.0.1"},
                          {"MASTER_PORT", port}},
                         d + "/err" + std::to_string(rank)));
  for (int rank = 0; rank < 2; ++rank)
    EXPECT_EQ(wait_for(pids[size_t(rank)], std::chrono::seconds(600)), 0)
        << read_file(d + "/err" + std::to_string(rank));
  // Two ranks compute the same thing however they were started.
  EXPECT_EQ(testing_util::computed_part(read_json(d + "/env/search.json")), testing_util::computed_part(s));
}

TEST(DistCli, KilledRankStopsEveryProcessAndResumeWithOneRankFinishes) {
  std::string d = testing_util::fresh_dir("dist_kill");
  pid_t launcher = spawn({"search", "-c", kSmoke, "--set", "export.enabled=false", "--set", "search.iterations=1",
                          "--set", "train.epochs=3", "--set", "dist.timeout_s=20", "--nproc", "2", "--out", d + "/run"},
                         {}, d + "/err");
  // Once the first epoch is checkpointed, rank 1 dies as in a crash.
  ASSERT_TRUE(wait_for_file(d + "/run/iter_0/checkpoint.pt")) << read_file(d + "/err");
  auto ranks = ranks_of(launcher);
  ASSERT_EQ(ranks.size(), 2u);
  pid_t victim = ranks[0].second == "1" ? ranks[0].first : ranks[1].first;
  pid_t survivor = ranks[0].second == "1" ? ranks[1].first : ranks[0].first;
  auto t0 = std::chrono::steady_clock::now();
  ::kill(victim, SIGKILL);
  const int status = wait_for(launcher, std::chrono::seconds(120));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string err = read_file(d + "/err");
  EXPECT_NE(status, 0) << err;
  EXPECT_NE(status, 999) << "the launcher hung: " << err;
  EXPECT_LT(took, 20 + 10) << err;  // within dist.timeout_s (and the survivor did not wait for SIGTERM)
  EXPECT_NE(err.find("rank 1"), std::string::npos) << err;
  EXPECT_NE(err.find("signal"), std::string::npos) << err;
  EXPECT_NE(::kill(survivor, 0), 0) << "rank 0 outlived the launcher";
  // One process finishes what two began.
  auto r = run_cli_full({"--quiet", "search", "--resume", d + "/run", "--nproc", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  json s = read_json(d + "/run/search.json");
  EXPECT_TRUE(s["done"].get<bool>());
  EXPECT_EQ(s["world_size"], 1);
}

// Ctrl-C reaches every rank through the launcher: they stop at the same step, rank 0 saves, all exit 130.
TEST(DistCli, SigintStopsEveryRankWithTheProgressSavedAndResumeFinishes) {
  std::string d = testing_util::fresh_dir("dist_sigint");
  pid_t launcher = spawn({"search", "-c", kSmoke, "--set", "export.enabled=false", "--set", "search.iterations=1",
                          "--set", "train.epochs=3", "--nproc", "2", "--out", d + "/run"},
                         {}, d + "/err");
  ASSERT_TRUE(wait_for_file(d + "/run/iter_0/checkpoint.pt")) << read_file(d + "/err");
  ::kill(launcher, SIGINT);
  EXPECT_EQ(wait_for(launcher, std::chrono::seconds(120)), 130) << read_file(d + "/err");
  const std::string err = read_file(d + "/err");
  EXPECT_NE(err.find("resume with: netadj search --resume"), std::string::npos) << err;
  EXPECT_EQ(err.find("rank 1: iter 0: interrupted"), std::string::npos) << "rank 0 reports for all: " << err;
  auto r = run_cli_full({"--quiet", "search", "--resume", d + "/run", "--nproc", "2"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(read_json(d + "/run/search.json")["done"].get<bool>());
}

TEST(DistCli, BenchTrainReportsScalingAgainstOneProcess) {
  auto r = run_cli_full({"--quiet", "bench", "train", "-c", kSmoke, "--warmup", "1", "--steps", "3", "--nproc", "2"});
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["world_size"], 2);
  EXPECT_EQ(j["backend"], "gloo");
  EXPECT_GT(j["train_images_per_s"].get<double>(), 0);
  EXPECT_GT(j["baseline_images_per_s"].get<double>(), 0);
  EXPECT_NEAR(j["scaling_efficiency"].get<double>(),
              j["train_images_per_s"].get<double>() / (2 * j["baseline_images_per_s"].get<double>()), 1e-9);
}

TEST(DistCli, IncompleteEnvironmentIsAUsageErrorNamingTheVariable) {
  std::string d = testing_util::fresh_dir("dist_env");
  pid_t p = spawn({"train", "-c", kSmoke, "--out", d + "/run"}, {{"RANK", "0"}, {"WORLD_SIZE", "2"}}, d + "/err");
  EXPECT_EQ(wait_for(p, std::chrono::seconds(60)), 2);
  EXPECT_NE(read_file(d + "/err").find("MASTER_PORT"), std::string::npos) << read_file(d + "/err");
}

// A network file searched on two ranks (--nproc 2): both ranks train, measure FUR and adjust the file's slots
// (the grouped conv's slot on its grid) to the end.
TEST(DistCli, NetworkFileSearchOnTwoRanks) {
  std::string d = testing_util::fresh_dir("dist_graph");
  const std::string config = std::string(NETADJ_SOURCE_DIR) + "/configs/graph_synthetic.json";
  auto r = run_cli_full(
      {"--quiet", "search", "-c", config, "--set", "export.enabled=false", "--nproc", "2", "--out", d + "/two"});
  ASSERT_EQ(r.status, 0) << r.err;
  json s = read_json(d + "/two/search.json");
  EXPECT_TRUE(s["done"].get<bool>());
  EXPECT_EQ(s["world_size"], 2);
  ASSERT_EQ(s["iterations"].size(), 2u);
  EXPECT_EQ(s["iterations"][1]["channels"][3].get<int64_t>() % 4, 0);
}
