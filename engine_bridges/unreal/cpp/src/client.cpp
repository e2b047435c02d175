// Implementation of articulate/client.h on the generated gRPC stubs.
#include "articulate/client.h"

#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "articulate/services/v1/articulate_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace svc = articulate::services::v1;
namespace rigpb = articulate::rig::v1;

namespace articulate {

// ------------------------------------------------------------------------------------------ helpers

std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

void CancelToken::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (ctx_ != nullptr) ctx_->TryCancel();
}

bool CancelToken::IsCancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

void CancelToken::Attach(grpc::ClientContext* ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  ctx_ = ctx;
  if (cancelled_) ctx->TryCancel();
}

void CancelToken::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  ctx_ = nullptr;
}

namespace {

template <typename T>
std::string Packed(const std::vector<T>& v) {
  // the wire format is little-endian; so are the platforms Unreal ships on (x86-64, ARM64)
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

template <typename T>
std::vector<T> Unpacked(const std::string& s) {
  std::vector<T> v(s.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), s.data(), v.size() * sizeof(T));
  return v;
}

svc::ExportFormat FormatOf(const std::string& f) {
  if (f == "usda") return svc::EXPORT_FORMAT_USDA;
  if (f == "usdc") return svc::EXPORT_FORMAT_USDC;
  if (f == "glb") return svc::EXPORT_FORMAT_GLB;
  if (f == "urdf") return svc::EXPORT_FORMAT_URDF;
  if (f == "usdz") return svc::EXPORT_FORMAT_USDZ;
  return svc::EXPORT_FORMAT_UNSPECIFIED;
}

void FillMesh(const MeshData& m, svc::MeshInput* in, rigpb::PartLabels* parts) {
  rigpb::Mesh* mesh = in->mutable_mesh();
  mesh->set_name(m.name);
  mesh->set_vertices_f64le(Packed(m.vertices));
  mesh->set_faces_u32le(Packed(m.faces));
  if (!m.part_labels.empty()) {
    parts->set_labels_i32le(Packed(m.part_labels));
    for (const auto& n : m.part_names) parts->add_names(n);
  }
}

const char* JointTypeName(int t) {
  switch (t) {
    case rigpb::JOINT_TYPE_REVOLUTE: return "revolute";
    case rigpb::JOINT_TYPE_CONTINUOUS: return "continuous";
    case rigpb::JOINT_TYPE_PRISMATIC: return "prismatic";
    case rigpb::JOINT_TYPE_SPHERICAL: return "spherical";
    default: return "fixed";
  }
}

// Follows one JobEvent stream: progress, result (inline or chunked), files, final status.
struct StreamState {
  Status status;
  std::string job_id;
  bool have_rig = false, have_art = false, chunked = false;
  svc::RigResult rig;
  svc::ArticulationResult art;
  std::map<std::string, std::string> files;
  int progress_events = 0;
};

void Consume(grpc::ClientReaderInterface<svc::JobEvent>* reader, const CallOptions& call, StreamState* st) {
  svc::JobEvent ev;
  std::string blob, blob_sha, blob_name, result;
  svc::ResultHeader rhead;
  bool in_result = false;
  bool data_loss = false;
  while (reader->Read(&ev)) {
    if (!ev.job_id().empty()) st->job_id = ev.job_id();
    switch (ev.event_case()) {
      case svc::JobEvent::kProgress:
        st->progress_events++;
        if (call.on_progress) call.on_progress(ev.progress().fraction(), ev.progress().message());
        break;
      case svc::JobEvent::kWarning:
        if (call.on_warning) call.on_warning(ev.warning());
        break;
      case svc::JobEvent::kRig:
        st->rig = ev.rig();
        st->have_rig = true;
        break;
      case svc::JobEvent::kArticulation:
        st->art = ev.articulation();
        st->have_art = true;
        break;
      case svc::JobEvent::kResultHeader:
        rhead = ev.result_header();
        result.clear();
        result.reserve(rhead.total_size());
        in_result = true;
        break;
      case svc::JobEvent::kResultChunk:
        result += ev.result_chunk();
        if (in_result && result.size() >= rhead.total_size()) {
          in_result = false;
          st->chunked = true;
          if (result.size() != rhead.total_size() || Sha256Hex(result) != rhead.sha256()) {
            data_loss = true;
          } else if (rhead.message_type().find("ArticulationResult") != std::string::npos) {
            st->have_art = st->art.ParseFromString(result);
          } else {
            st->have_rig = st->rig.ParseFromString(result);
          }
          result.clear();
        }
        break;
      case svc::JobEvent::kBlobHeader:
        blob.clear();
        blob_name = ev.blob_header().name();
        blob_sha = ev.blob_header().sha256();
        blob.reserve(ev.blob_header().total_size());
        break;
      case svc::JobEvent::kBlobChunk:
        blob += ev.blob_chunk();
        break;
      case svc::JobEvent::kBlobEnd:
        if (!blob_sha.empty() && Sha256Hex(blob) != blob_sha) {
          data_loss = true;
        } else {
          st->files[blob_name] = std::move(blob);
        }
        blob.clear();
        break;
      case svc::JobEvent::kFinal:
        st->status.code = ev.final().code();
        st->status.message = ev.final().message();
        st->status.field = ev.final().field();
        st->status.in_band = true;
        break;
      default:
        break;
    }
  }
  grpc::Status s = reader->Finish();
  if (!st->status.in_band || (st->status.ok() && !s.ok())) {
    st->status.code = s.error_code();
    st->status.message = s.error_message();
  }
  if (data_loss && st->status.ok()) {
    st->status.code = kDataLoss;
    st->status.message = "a result or file arrived corrupted (sha256 mismatch)";
  }
}

void Prepare(grpc::ClientContext* ctx, const std::string& token, const CallOptions& call) {
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  if (call.deadline_seconds > 0) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::microseconds(static_cast<int64_t>(call.deadline_seconds * 1e6)));
  }
  if (call.cancel) call.cancel->Attach(ctx);
}

RigResult ToRig(StreamState& st) {
  RigResult out;
  out.status = st.status;
  out.job_id = st.job_id;
  out.files = std::move(st.files);
  out.chunked_result = st.chunked;
  out.progress_events = st.progress_events;
  if (out.status.ok() && !st.have_rig) {
    out.status.code = kInternal;
    out.status.message = "the server ended the call without a result";
  }
  if (!st.have_rig) return out;
  const rigpb::Rig& r = st.rig.rig();
  out.joint_names.assign(r.skeleton().names().begin(), r.skeleton().names().end());
  out.parents.assign(r.skeleton().parents().begin(), r.skeleton().parents().end());
  out.bind_world.assign(r.skeleton().bind_world().begin(), r.skeleton().bind_world().end());
  out.rest_local.assign(r.skeleton().rest_local().begin(), r.skeleton().rest_local().end());
  out.influences = r.skin().influences();
  out.skin_indices = Unpacked<uint32_t>(r.skin().joint_indices_u32le());
  out.skin_weights = Unpacked<float>(r.skin().weights_f32le());
  out.joint_parts.assign(r.joint_parts().begin(), r.joint_parts().end());
  return out;
}

}  // namespace

// ------------------------------------------------------------------------------------------ Client

struct Client::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<svc::ArticulateService::Stub> stub;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
  std::string token;
};

std::string Client::NormalizeTarget(const std::string& target) {
  std::string t = target;
  for (const char* scheme : {"http://", "https://", "grpc://"}) {
    if (t.rfind(scheme, 0) == 0) t = t.substr(std::strlen(scheme));
  }
  while (!t.empty() && t.back() == '/') t.pop_back();
  if (t.find("://") != std::string::npos || t.rfind("unix:", 0) == 0 || t.rfind("dns:", 0) == 0) return t;
  if (!t.empty() && t[0] == '[') return t.find("]:") != std::string::npos ? t : t + ":50051";
  size_t colons = std::count(t.begin(), t.end(), ':');
  if (colons == 0) return t + ":50051";
  if (colons > 1) return "[" + t + "]:50051";
  return t;
}

Client::Client(const std::string& target, const std::string& token, const ClientOptions& options)
    : impl_(new Impl) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (!options.root_certificates.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.root_certificates;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  impl_->channel = grpc::CreateCustomChannel(NormalizeTarget(target), creds, args);
  impl_->stub = svc::ArticulateService::NewStub(impl_->channel);
  impl_->health = grpc::health::v1::Health::NewStub(impl_->channel);
  impl_->token = token;
}

Client::~Client() = default;

std::string Client::Health(double timeout_seconds) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000)));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = impl_->health->Check(&ctx, req, &resp);
  if (!s.ok()) return "ERROR: " + s.error_message();
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
}

std::string Client::Upload(const std::string& data, const std::string& filename, const std::string& content_type,
                           Status* status, double timeout_seconds) {
  grpc::ClientContext ctx;
  CallOptions call;
  call.deadline_seconds = timeout_seconds;
  Prepare(&ctx, impl_->token, call);
  svc::UploadResponse resp;
  auto writer = impl_->stub->Upload(&ctx, &resp);
  svc::UploadChunk chunk;
  chunk.mutable_header()->set_filename(filename);
  chunk.mutable_header()->set_content_type(content_type);
  chunk.mutable_header()->set_total_size(data.size());
  bool ok = writer->Write(chunk);
  const size_t step = 1 << 20;
  for (size_t i = 0; ok && i < data.size(); i += step) {
    svc::UploadChunk d;
    d.set_data(data.substr(i, step));
    ok = writer->Write(d);
  }
  if (ok) {
    svc::UploadChunk end;
    end.mutable_end()->set_sha256(Sha256Hex(data));
    writer->Write(end);
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (status != nullptr) {
    status->code = s.error_code();
    status->message = s.error_message();
  }
  return s.ok() ? resp.upload_id() : std::string();
}

static void FillRigOptions(const RigOptions& o, svc::RigRequest* req) {
  req->set_method(o.method);
  req->set_max_influences(o.max_influences);
  req->set_max_bones(o.max_bones);
  req->set_root(o.root);
  req->set_include_mesh(o.include_mesh);
  req->mutable_export_()->set_up_axis(o.up_axis);
  for (const auto& f : o.formats) req->mutable_export_()->add_formats(FormatOf(f));
}

static RigResult RunRig(svc::ArticulateService::Stub* stub, const std::string& token, const svc::RigRequest& req,
                        const CallOptions& call) {
  grpc::ClientContext ctx;
  Prepare(&ctx, token, call);
  StreamState st;
  auto reader = stub->Rig(&ctx, req);
  Consume(reader.get(), call, &st);
  if (call.cancel) call.cancel->Detach();
  return ToRig(st);
}

RigResult Client::RigMesh(const MeshData& mesh, const RigOptions& options, const CallOptions& call) {
  svc::RigRequest req;
  FillMesh(mesh, req.mutable_input(), req.mutable_parts());
  req.set_part_source(mesh.part_labels.empty() ? svc::PART_SOURCE_UNSPECIFIED : svc::PART_SOURCE_INLINE);
  FillRigOptions(options, &req);
  return RunRig(impl_->stub.get(), impl_->token, req, call);
}

RigResult Client::RigUpload(const std::string& upload_id, const RigOptions& options, const CallOptions& call) {
  svc::RigRequest req;
  req.mutable_input()->set_upload_id(upload_id);
  req.set_part_source(svc::PART_SOURCE_ASSET);
  FillRigOptions(options, &req);
  return RunRig(impl_->stub.get(), impl_->token, req, call);
}

ArticulationResult Client::ArticulateProp(const MeshData& mesh, const PropOptions& options, const CallOptions& call) {
  svc::ArticulatePartsRequest req;
  FillMesh(mesh, req.mutable_input(), req.mutable_parts());
  req.set_part_source(svc::PART_SOURCE_INLINE);
  req.set_all_parts(options.all_parts);
  for (const auto& p : options.parts) {
    auto* pp = req.add_prompts();
    pp->set_part(p);
    auto it = options.prompts.find(p);
    if (it != options.prompts.end()) pp->set_prompt(it->second);
  }
  for (const auto& kv : options.prompts) {
    bool listed = false;
    for (const auto& p : options.parts) listed = listed || p == kv.first;
    if (!listed) {
      auto* pp = req.add_prompts();
      pp->set_part(kv.first);
      pp->set_prompt(kv.second);
    }
  }
  for (const auto& f : options.formats) req.mutable_export_()->add_formats(FormatOf(f));
  grpc::ClientContext ctx;
  Prepare(&ctx, impl_->token, call);
  StreamState st;
  auto reader = impl_->stub->ArticulateParts(&ctx, req);
  Consume(reader.get(), call, &st);
  if (call.cancel) call.cancel->Detach();
  ArticulationResult out;
  out.status = st.status;
  out.job_id = st.job_id;
  out.files = std::move(st.files);
  out.progress_events = st.progress_events;
  if (out.status.ok() && !st.have_art) {
    out.status.code = kInternal;
    out.status.message = "the server ended the call without a result";
  }
  if (!st.have_art) return out;
  const rigpb::Articulation& a = st.art.articulation();
  for (const auto& l : a.links()) out.links.push_back(l.name());
  for (const auto& j : a.joints()) {
    JointInfo ji;
    ji.name = j.name();
    ji.type = JointTypeName(j.type());
    ji.parent = j.parent();
    ji.child = j.child();
    for (int k = 0; k < 3 && k < j.origin_size(); ++k) ji.origin[k] = j.origin(k);
    for (int k = 0; k < 3 && k < j.axis_size(); ++k) ji.axis[k] = j.axis(k);
    ji.lower = j.lower();
    ji.upper = j.upper();
    ji.confidence = j.confidence();
    out.joints.push_back(ji);
  }
  return out;
}

}  // namespace articulate
