// Unity bridge: call an `articulate serve` server from the editor or a player and get rigged files back.
//
// UNVERIFIED: no Unity or .NET SDK is available in this project's CI, so this file has not been compiled.
// The protocol it speaks (event order, blob headers, chunked results, final status, sha256) is the one the
// Python and C++ clients are tested on (tests/server/test_rpc.py, test_cpp_client.py).
//
// Transport. Unity's .NET has no HTTP/2 HttpClient handler, so `GrpcChannel.ForAddress(url)` alone throws
// (or silently falls back to HTTP/1.1) there. This client uses Cysharp's YetAnotherHttpHandler
// (https://github.com/Cysharp/YetAnotherHttpHandler: native HTTP/2 via Rust hyper, supports Unity 2021.3+ on
// Windows/macOS/Linux/Android/iOS), which speaks real gRPC over HTTP/2, h2c included — the server needs
// nothing extra (no gRPC-Web proxy). Install it through UPM (git URL
// https://github.com/Cysharp/YetAnotherHttpHandler.git?path=src/YetAnotherHttpHandler#{version}) together with
// its NuGet dependencies (System.IO.Pipelines, System.Runtime.CompilerServices.Unsafe), plus Grpc.Net.Client,
// Google.Protobuf and the C# stubs generated from ../../proto with Grpc.Tools:
//   <Protobuf Include="proto/articulate/**/*.proto" GrpcServices="Client" ProtoRoot="proto" />
// Import the returned .glb with a glTF importer such as glTFast.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Articulate.Rig.V1;
using Articulate.Services.V1;
using Cysharp.Net.Http;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

public sealed class ArticulateResult
{
    public int Code;                       // grpc status code of the job (0 = OK)
    public string Message = "";
    public string Field = "";              // the request field at fault (INVALID_ARGUMENT)
    public RigResult Rig;                  // structured result (inline or reassembled from chunks)
    public ArticulationResult Articulation;
    public readonly Dictionary<string, byte[]> Files = new Dictionary<string, byte[]>();
    public bool Ok => Code == 0;
}

public sealed class ArticulateClient : IDisposable
{
    const int ChunkBytes = 1 << 20;
    readonly GrpcChannel _channel;
    readonly ArticulateService.ArticulateServiceClient _client;
    readonly Metadata _headers = new Metadata();

    /// <param name="target">"host:port" (a bare host gets :50051), or an http:// / https:// URL.</param>
    public ArticulateClient(string target, string token = null, bool tls = false, int maxMessageBytes = 64 << 20)
    {
        var handler = new YetAnotherHttpHandler { Http2Only = true };  // h2c for http://, TLS + ALPN h2 for https://
        _channel = GrpcChannel.ForAddress(ToUri(target, tls), new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = maxMessageBytes,
            MaxSendMessageSize = maxMessageBytes,
        });
        _client = new ArticulateService.ArticulateServiceClient(_channel);
        if (!string.IsNullOrEmpty(token)) _headers.Add("authorization", $"Bearer {token}");
    }

    public static Uri ToUri(string target, bool tls)
    {
        var t = target.Trim();
        if (t.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ||
            t.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            return new Uri(t);
        if (t.StartsWith("[")) { if (!t.Contains("]:")) t += ":50051"; }
        else if (t.Count(c => c == ':') == 0) t += ":50051";
        else if (t.Count(c => c == ':') > 1) t = $"[{t}]:50051";  // a bare IPv6 address
        return new Uri((tls ? "https://" : "http://") + t);
    }

    public void Dispose() => _channel.Dispose();

    static string Sha256Hex(byte[] data)
    {
        using (var sha = SHA256.Create())
            return string.Concat(sha.ComputeHash(data).Select(b => b.ToString("x2")));
    }

    DateTime? Deadline(double seconds) => seconds > 0 ? DateTime.UtcNow.AddSeconds(seconds) : (DateTime?)null;

    /// Upload a file in chunks (header with total size, data, end with sha256); returns the upload id.
    public async Task<string> UploadAsync(string path, double deadlineSeconds = 600, CancellationToken cancel = default)
    {
        var data = File.ReadAllBytes(path);
        using (var up = _client.Upload(_headers, Deadline(deadlineSeconds), cancel))
        {
            await up.RequestStream.WriteAsync(new UploadChunk { Header = new UploadHeader {
                Filename = Path.GetFileName(path), TotalSize = (ulong)data.Length } });
            for (int i = 0; i < data.Length; i += ChunkBytes)
                await up.RequestStream.WriteAsync(new UploadChunk {
                    Data = ByteString.CopyFrom(data, i, Math.Min(ChunkBytes, data.Length - i)) });
            await up.RequestStream.WriteAsync(new UploadChunk { End = new UploadEnd { Sha256 = Sha256Hex(data) } });
            await up.RequestStream.CompleteAsync();
            return (await up.ResponseAsync).UploadId;
        }
    }

    /// Follow a JobEvent stream: progress, result (inline or result_header + result_chunk), files
    /// (blob_header / blob_chunk / blob_end, sha256-checked), and the final status in band.
    static async Task<ArticulateResult> FollowAsync(IAsyncStreamReader<JobEvent> events, Action<float, string> progress,
                                                   CancellationToken cancel)
    {
        var result = new ArticulateResult();
        BlobHeader blob = null;
        MemoryStream blobBuf = null, resultBuf = null;
        ResultHeader resultHeader = null;
        bool final = false;
        try
        {
            while (await events.MoveNext(cancel))
            {
                var ev = events.Current;
                switch (ev.EventCase)
                {
                    case JobEvent.EventOneofCase.Progress:
                        progress?.Invoke((float)ev.Progress.Fraction, ev.Progress.Message);
                        break;
                    case JobEvent.EventOneofCase.Rig: result.Rig = ev.Rig; break;
                    case JobEvent.EventOneofCase.Articulation: result.Articulation = ev.Articulation; break;
                    case JobEvent.EventOneofCase.ResultHeader:
                        resultHeader = ev.ResultHeader;
                        resultBuf = new MemoryStream((int)Math.Min(resultHeader.TotalSize, int.MaxValue));
                        break;
                    case JobEvent.EventOneofCase.ResultChunk:
                        ev.ResultChunk.WriteTo(resultBuf);
                        if ((ulong)resultBuf.Length >= resultHeader.TotalSize)
                        {
                            var bytes = resultBuf.ToArray();
                            resultBuf = null;
                            if (Sha256Hex(bytes) != resultHeader.Sha256)
                                throw new RpcException(new Status(StatusCode.DataLoss, "chunked result corrupted"));
                            if (resultHeader.MessageType.EndsWith("ArticulationResult"))
                                result.Articulation = ArticulationResult.Parser.ParseFrom(bytes);
                            else
                                result.Rig = RigResult.Parser.ParseFrom(bytes);
                        }
                        break;
                    case JobEvent.EventOneofCase.BlobHeader:
                        blob = ev.BlobHeader;
                        blobBuf = new MemoryStream((int)Math.Min(blob.TotalSize, int.MaxValue));
                        break;
                    case JobEvent.EventOneofCase.BlobChunk:
                        ev.BlobChunk.WriteTo(blobBuf);
                        break;
                    case JobEvent.EventOneofCase.BlobEnd:
                        var file = blobBuf.ToArray();
                        if (!string.IsNullOrEmpty(blob.Sha256) && Sha256Hex(file) != blob.Sha256)
                            throw new RpcException(new Status(StatusCode.DataLoss, $"file {blob.Name} corrupted"));
                        result.Files[blob.Name] = file;
                        blobBuf = null;
                        break;
                    case JobEvent.EventOneofCase.Final:
                        result.Code = ev.Final.Code;
                        result.Message = ev.Final.Message;
                        result.Field = ev.Final.Field;
                        final = true;
                        break;
                }
            }
        }
        catch (RpcException e) when (!final)
        {
            // no final event: the call failed before the job (auth, size) or the transport ended (cancel, deadline)
            result.Code = (int)e.StatusCode;
            result.Message = e.Status.Detail;
            result.Field = e.Trailers.GetValue("articulate-field") ?? "";
        }
        catch (RpcException) { /* the status repeats the final event already read */ }
        return result;
    }

    /// Rig a mesh file (OBJ with groups / PLY with labels) on the server and return its files (e.g. rig.glb).
    public async Task<ArticulateResult> RigFileAsync(string meshPath, IEnumerable<ExportFormat> formats = null,
                                                     Action<float, string> progress = null,
                                                     double deadlineSeconds = 600, CancellationToken cancel = default)
    {
        var uploadId = await UploadAsync(meshPath, deadlineSeconds, cancel);
        var request = new RigRequest { Input = new MeshInput { UploadId = uploadId }, PartSource = PartSource.Asset,
                                       Export = new ExportOptions() };
        request.Export.Formats.AddRange(formats ?? new[] { ExportFormat.Glb });
        try
        {
            using (var call = _client.Rig(request, _headers, Deadline(deadlineSeconds), cancel))
                return await FollowAsync(call.ResponseStream, progress, cancel);
        }
        finally
        {
            try { await _client.DeleteUploadAsync(new DeleteUploadRequest { UploadId = uploadId }, _headers,
                                                  Deadline(10)); }
            catch (RpcException) { /* expired already */ }
        }
    }

    /// Rig a mesh given as arrays (vertices [V*3], faces [F*3], one part label per vertex).
    public async Task<ArticulateResult> RigMeshAsync(float[] vertices, int[] faces, int[] labels, string[] partNames,
                                                     IEnumerable<ExportFormat> formats = null,
                                                     Action<float, string> progress = null,
                                                     double deadlineSeconds = 600, CancellationToken cancel = default)
    {
        var mesh = new Mesh { Vertices = new FloatList(), Faces = new IndexList() };
        mesh.Vertices.Values.AddRange(vertices);
        mesh.Faces.Values.AddRange(faces.Select(i => (uint)i));
        var parts = new PartLabels { Values = new LabelList() };
        parts.Values.Values.AddRange(labels);
        parts.Names.AddRange(partNames);
        var request = new RigRequest { Input = new MeshInput { Mesh = mesh }, Parts = parts,
                                       PartSource = PartSource.Inline, Export = new ExportOptions() };
        request.Export.Formats.AddRange(formats ?? new[] { ExportFormat.Glb });
        using (var call = _client.Rig(request, _headers, Deadline(deadlineSeconds), cancel))
            return await FollowAsync(call.ResponseStream, progress, cancel);
    }

    /// Rig a mesh file and write the server's GLB next to it; throws with the server's status on failure.
    public async Task<string> RigFileToGlbAsync(string meshPath, Action<float, string> progress = null,
                                                double deadlineSeconds = 600, CancellationToken cancel = default)
    {
        var r = await RigFileAsync(meshPath, new[] { ExportFormat.Glb }, progress, deadlineSeconds, cancel);
        if (!r.Ok)
            throw new RpcException(new Status((StatusCode)r.Code, string.IsNullOrEmpty(r.Field) ? r.Message
                                                                                             : $"{r.Field}: {r.Message}"));
        var outPath = Path.ChangeExtension(meshPath, ".rig.glb");
        File.WriteAllBytes(outPath, r.Files["rig.glb"]);
        return outPath;
    }
}
