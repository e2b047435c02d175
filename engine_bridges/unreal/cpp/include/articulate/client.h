// C++ client of an `articulate serve` server (articulate.services.v1 over gRPC).
//
//   articulate::Client client("127.0.0.1:50051", token);
//   articulate::MeshData mesh = ...;                      // vertices [V*3], faces [F*3], part labels [V]
//   articulate::CallOptions call;
//   call.deadline_seconds = 120;
//   call.on_progress = [](double f, const std::string& msg) { ... };
//   call.cancel = std::make_shared<articulate::CancelToken>();   // call->cancel->Cancel() from any thread
//   articulate::RigOptions opts;  opts.formats = {"usda", "glb"};
//   articulate::RigResult rig = client.RigMesh(mesh, opts, call);
//   if (!rig.status.ok()) { ... rig.status.code / message / field ... }
//   rig.files["rig.usda"]                                 // made on the server, sha256-checked
//
// Everything runs on the calling thread (blocking); an Unreal plugin runs calls on a worker thread
// (FRunnable / AsyncTask) and marshals progress back to the game thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace articulate {

// gRPC status codes the server uses (grpc::StatusCode values).
enum Code : int {
  kOk = 0, kCancelled = 1, kUnknown = 2, kInvalidArgument = 3, kDeadlineExceeded = 4, kNotFound = 5,
  kResourceExhausted = 8, kFailedPrecondition = 9, kUnimplemented = 12, kInternal = 13, kUnavailable = 14,
  kDataLoss = 15, kUnauthenticated = 16,
};

struct Status {
  int code = kOk;
  std::string message;
  std::string field;  // the request field at fault (INVALID_ARGUMENT)
  bool in_band = false;  // the outcome came as the stream's `final` event (not only as the gRPC status)
  bool ok() const { return code == kOk; }
};

// Cancels a call in flight from any thread; one token per call.
class CancelToken {
 public:
  void Cancel();
  bool IsCancelled() const;
  // used by Client
  void Attach(grpc::ClientContext* ctx);
  void Detach();

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  grpc::ClientContext* ctx_ = nullptr;
};

struct CallOptions {
  double deadline_seconds = 0;  // 0 = no deadline
  std::function<void(double fraction, const std::string& message)> on_progress;
  std::function<void(const std::string& warning)> on_warning;
  std::shared_ptr<CancelToken> cancel;
};

struct MeshData {
  std::string name = "mesh";
  std::vector<double> vertices;          // [V * 3]
  std::vector<uint32_t> faces;           // [F * 3]
  std::vector<int32_t> part_labels;      // [V], -1 = unlabelled
  std::vector<std::string> part_names;   // indexed by label
};

struct RigOptions {
  std::string method;                    // "" = the server's default (harmonic)
  uint32_t max_influences = 0;           // 0 = default (4)
  uint32_t max_bones = 0;
  std::string root;
  std::vector<std::string> formats;      // "usda", "usdc", "glb"
  std::string up_axis = "Y";
  bool include_mesh = false;
};

struct RigResult {
  Status status;
  std::string job_id;
  std::vector<std::string> joint_names;
  std::vector<int32_t> parents;
  std::vector<double> bind_world;        // [J * 16] row-major, column-vector convention
  std::vector<double> rest_local;        // [J * 16]
  uint32_t influences = 0;
  std::vector<uint32_t> skin_indices;    // [V * k]
  std::vector<float> skin_weights;       // [V * k]
  std::vector<int32_t> joint_parts;
  std::map<std::string, std::string> files;  // file name -> bytes
  bool chunked_result = false;           // the result arrived as result chunks
  int progress_events = 0;
};

struct PropOptions {
  std::vector<std::string> parts;        // parts to articulate ...
  std::map<std::string, std::string> prompts;  // ... with prompts ("open the door")
  bool all_parts = false;                // ... or every movable part
  std::vector<std::string> formats;      // "usda", "usdc", "urdf"
};

struct JointInfo {
  std::string name, type, parent, child;
  double origin[3] = {0, 0, 0};
  double axis[3] = {0, 0, 0};
  double lower = 0, upper = 0, confidence = 0;
};

struct ArticulationResult {
  Status status;
  std::string job_id;
  std::vector<std::string> links;
  std::vector<JointInfo> joints;
  std::map<std::string, std::string> files;
  int progress_events = 0;
};

struct ClientOptions {
  int max_message_bytes = 64 << 20;
  std::string root_certificates;         // PEM; non-empty enables TLS
};

class Client {
 public:
  // target: "host:port" (a bare host gets :50051); token: bearer token or "".
  Client(const std::string& target, const std::string& token = "", const ClientOptions& options = {});
  ~Client();

  // grpc.health.v1 Check: "SERVING", "NOT_SERVING", ... or "ERROR: ..." when unreachable.
  std::string Health(double timeout_seconds = 5.0);
  // Upload bytes (chunked, with sha256); returns the upload id, or "" with *status set.
  std::string Upload(const std::string& data, const std::string& filename, const std::string& content_type,
                     Status* status, double timeout_seconds = 300.0);

  RigResult RigMesh(const MeshData& mesh, const RigOptions& options, const CallOptions& call = {});
  // Rig an uploaded asset file (OBJ groups / PLY labels give the parts).
  RigResult RigUpload(const std::string& upload_id, const RigOptions& options, const CallOptions& call = {});
  ArticulationResult ArticulateProp(const MeshData& mesh, const PropOptions& options, const CallOptions& call = {});

  static std::string NormalizeTarget(const std::string& target);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(const std::string& data);

}  // namespace articulate
