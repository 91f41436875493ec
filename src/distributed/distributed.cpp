#include "netadj/distributed/distributed.h"

#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>

#include "netadj/util/interrupt.h"
#include "netadj/util/log.h"

namespace netadj::dist {

namespace {

int env_int(const char* name, int lo, int hi, const char* fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    if (fallback)
      v = fallback;
    else
      throw ConfigError(std::string(name) +
                        ": not set (RANK is; set all of RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
  }
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi)
    throw ConfigError(std::string(name) + " = \"" + v + "\": expected an integer in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
  return static_cast<int>(x);
}

}  // namespace

Env read_env() {
  Env e;
  const char* rank = std::getenv("RANK");
  if (!rank || !*rank) return e;
  e.present = true;
  e.world = env_int("WORLD_SIZE", 1, 1 << 20, nullptr);
  e.rank = env_int("RANK", 0, e.world - 1, nullptr);
  e.local_world = env_int("LOCAL_WORLD_SIZE", 1, e.world, "1");
  e.local_rank = env_int("LOCAL_RANK", 0, e.local_world - 1, "0");
  e.master_port = env_int("MASTER_PORT", 1, 65535, nullptr);
  const char* addr = std::getenv("MASTER_ADDR");
  if (!addr || !*addr) throw ConfigError("MASTER_ADDR: not set (RANK is)");
  e.master_addr = addr;
  return e;
}

struct World::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> pg;
  torch::Device device = torch::kCPU;
  std::chrono::milliseconds timeout{60000};
};

namespace {

c10::intrusive_ptr<c10d::Backend> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                            std::chrono::milliseconds timeout) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
}

}  // namespace

World World::over_store(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world,
                        std::chrono::milliseconds timeout) {
  World w;
  w.impl_ = std::make_shared<Impl>();
  w.impl_->store = store;
  w.impl_->timeout = timeout;
  w.rank_ = rank;
  w.size_ = world;
  w.local_size_ = world;
  w.local_rank_ = rank;
  w.backend_ = "gloo";
  try {
    w.impl_->pg = make_gloo(c10::make_intrusive<c10d::PrefixStore>("gloo", store), rank, world, timeout);
  } catch (const std::exception& e) {
    w.fail("joining the process group", e);
  }
  return w;
}

World World::connect(const Env& env, const torch::Device& device, std::chrono::milliseconds timeout) {
  World w;
  w.rank_ = env.rank;
  w.size_ = env.world;
  w.local_rank_ = env.local_rank;
  w.local_size_ = env.local_world;
  if (!env.present) return w;
  w.impl_ = std::make_shared<Impl>();
  w.impl_->timeout = timeout;
  w.impl_->device = device;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    // Recent torchrun serves the store itself on MASTER_PORT (and says so): then every rank is a client.
    const char* agent_store = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    so.isServer = env.rank == 0 && !(agent_store && std::string(agent_store) == "True");
    so.numWorkers = static_cast<size_t>(env.world);
    so.waitWorkers = true;
    so.timeout = timeout;
    w.impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    auto prefixed = [&](const char* p) { return c10::make_intrusive<c10d::PrefixStore>(p, w.impl_->store); };
    if (device.is_cuda()) {
#ifdef USE_C10D_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      w.impl_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed("nccl"), env.rank, env.world, opts);
      w.backend_ = "nccl";
#else
      throw ConfigError(
          "runtime.device = " + device.str() +
          ": this netadj was built without NCCL; run on the CPU (Gloo) or rebuild against a CUDA LibTorch");
#endif
    } else {
      w.impl_->pg = make_gloo(prefixed("gloo"), env.rank, env.world, timeout);
      w.backend_ = "gloo";
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    w.fail("joining the process group at " + env.master_addr + ":" + std::to_string(env.master_port), e);
  }
  return w;
}

void World::fail(const std::string& what, const std::exception& e) const {
  std::string msg = e.what();
  if (auto* ce = dynamic_cast<const c10::Error*>(&e)) msg = ce->what_without_backtrace();
  auto nl = msg.find('\n');
  if (nl != std::string::npos) msg = msg.substr(0, nl);
  throw DistError("distributed (rank " + std::to_string(rank_) + " of " + std::to_string(size_) + "): " + what +
                  " failed: another rank stopped, the network failed, or it waited past dist.timeout_s (" + msg + ")");
}

void World::all_reduce_sum(std::vector<torch::Tensor>& tensors) const {
  if (!distributed()) return;
  for (auto& t : tensors) all_reduce_sum(t);
}

void World::all_reduce_sum(torch::Tensor& t) const {
  if (!distributed()) return;
  torch::Tensor flat = t.to(impl_->device).contiguous().view(-1).clone();
  auto p = all_reduce_sum_async(flat);
  p.wait();
  t.copy_(flat.view(t.sizes()));
}

World::Pending World::all_reduce_sum_async(torch::Tensor& t) const {
  Pending p;
  if (!distributed()) return p;
  std::vector<torch::Tensor> v = {t};
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = impl_->pg->allreduce(v);
  } catch (const std::exception& e) {
    fail("all-reduce", e);
  }
  p.finish_ = [w = *this, work] {
    try {
      work->wait(w.impl_->timeout);
    } catch (const std::exception& e) {
      w.fail("all-reduce", e);
    }
  };
  return p;
}

void World::broadcast(std::vector<torch::Tensor>& tensors) const {
  if (!distributed()) return;
  for (auto& t : tensors) {
    torch::Tensor flat = t.detach().to(impl_->device).contiguous().view(-1).clone();
    std::vector<torch::Tensor> v = {flat};
    try {
      c10d::BroadcastOptions o;
      o.rootRank = 0;
      impl_->pg->broadcast(v, o)->wait(impl_->timeout);
    } catch (const std::exception& e) {
      fail("broadcast", e);
    }
    torch::NoGradGuard ng;
    t.copy_(flat.view(t.sizes()));
  }
}

std::string World::share(const std::string& key, const std::string& value, std::chrono::milliseconds wait) const {
  if (!distributed()) return value;
  try {
    const std::string k = "netadj/share/" + key;
    if (root()) impl_->store->set(k, std::vector<uint8_t>(value.begin(), value.end()));
    impl_->store->wait({k}, wait.count() > 0 ? wait : impl_->timeout);
    auto bytes = impl_->store->get(k);
    return std::string(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    fail("sharing " + key, e);
  }
}

bool World::any(bool mine) const {
  if (!distributed()) return mine;
  torch::Tensor flag = torch::full({1}, mine ? 1.0f : 0.0f);
  all_reduce_sum(flag);
  return flag.item<float>() > 0;
}

void throw_if_interrupted(const World& world, const std::string& what) {
  const bool mine = interrupt_requested();
  if (!world.any(mine)) return;  // a world of one asks no one else
  if (mine) throw Interrupted(what + ": interrupted by " + interrupt_signal_name());
  throw Interrupted(what + ": interrupted (another rank got the signal)");
}

void World::barrier() const {
  if (!distributed()) return;
  // An all-reduce rather than the backend's barrier: NCCL's needs a device guess, Gloo's has none to make.
  auto one = torch::ones({1}, torch::TensorOptions().device(impl_->device));
  auto p = all_reduce_sum_async(one);
  p.wait();
}

const World& single_process() {
  static const World one;
  return one;
}

bool has_nccl() {
#ifdef USE_C10D_NCCL
  return true;
#else
  return false;
#endif
}

}  // namespace netadj::dist
