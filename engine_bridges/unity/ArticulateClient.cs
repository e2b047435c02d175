// Unity bridge: call an `articulate serve` server from the editor and get a rigged glTF back.
// Unverified here (no Unity/.NET in this project's CI). Generate the C# stubs from ../../proto with Grpc.Tools
// (<Protobuf Include="proto/articulate/**/*.proto" GrpcServices="Client" />) and add Grpc.Net.Client;
// import the returned .glb with a glTF importer such as glTFast.
using System.IO;
using System.Threading.Tasks;
using Articulate.Rig.V1;
using Articulate.Services.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

public static class ArticulateClient
{
    // Rig a mesh file (OBJ with groups, glTF with nodes) and write the rigged GLB next to it.
    public static async Task<string> RigFileAsync(string target, string token, string meshPath)
    {
        using var channel = GrpcChannel.ForAddress(target);
        var client = new ArticulateService.ArticulateServiceClient(channel);
        var headers = new Metadata();
        if (!string.IsNullOrEmpty(token)) headers.Add("authorization", $"Bearer {token}");

        // upload the file in chunks, then ask for a rig with a GLB export
        using var up = client.Upload(headers);
        var data = File.ReadAllBytes(meshPath);
        await up.RequestStream.WriteAsync(new UploadChunk { Header = new UploadHeader { Filename = Path.GetFileName(meshPath), TotalSize = (ulong)data.Length } });
        for (int i = 0; i < data.Length; i += 1 << 20)
            await up.RequestStream.WriteAsync(new UploadChunk { Data = ByteString.CopyFrom(data, i, System.Math.Min(1 << 20, data.Length - i)) });
        await up.RequestStream.WriteAsync(new UploadChunk { End = new UploadEnd() });
        await up.RequestStream.CompleteAsync();
        var uploaded = await up.ResponseAsync;

        var request = new RigRequest { Input = new MeshInput { UploadId = uploaded.UploadId }, PartSource = PartSource.Asset };
        request.Export = new ExportOptions();
        request.Export.Formats.Add(ExportFormat.Glb);
        var outPath = Path.ChangeExtension(meshPath, ".rig.glb");
        using var call = client.Rig(request, headers);
        using var glb = new MemoryStream();
        await foreach (var ev in call.ResponseStream.ReadAllAsync())
        {
            if (ev.EventCase == JobEvent.EventOneofCase.BlobChunk) ev.BlobChunk.WriteTo(glb);
            if (ev.EventCase == JobEvent.EventOneofCase.Final && ev.Final.Code != 0)
                throw new RpcException(new Status((StatusCode)ev.Final.Code, ev.Final.Message));
        }
        File.WriteAllBytes(outPath, glb.ToArray());
        return outPath;
    }
}
