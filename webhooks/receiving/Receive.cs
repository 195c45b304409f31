// Receive our webhooks and verify them (Standard Webhooks), with .NET's base class library.
// Run (Mono): mcs Receive.cs && WEBHOOK_SECRET=whsec_... PORT=8000 mono Receive.exe
// (.NET 6+: the same file in a console project, `dotnet run`.)
using System;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.IO;
using System.Net;
using System.Security.Cryptography;
using System.Text;

class Receive
{
    const long ToleranceSeconds = 5 * 60;
    static readonly byte[] Secret = Convert.FromBase64String(
        Environment.GetEnvironmentVariable("WEBHOOK_SECRET").Replace("whsec_", "")); // base64 has no '_'

    // The loop below handles one request at a time, so a plain set will do here;
    // real code stores processed ids durably, e.g. in a unique column.
    static readonly HashSet<string> Processed = new HashSet<string>();

    static void Main()
    {
        var port = Environment.GetEnvironmentVariable("PORT") ?? "8000";
        var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/webhooks/");
        listener.Start();
        while (true)
        {
            var context = listener.GetContext();
            try
            {
                var body = new MemoryStream();
                context.Request.InputStream.CopyTo(body); // the raw bytes
                var (status, text) = Answer(context.Request, body.ToArray());
                var bytes = Encoding.UTF8.GetBytes(text);
                context.Response.StatusCode = status;
                context.Response.ContentType = "text/plain";
                context.Response.OutputStream.Write(bytes, 0, bytes.Length);
                context.Response.Close();
            }
            catch (Exception e) { Console.Error.WriteLine(e); } // e.g. the client hung up
        }
    }

    static (int, string) Answer(HttpListenerRequest request, byte[] body)
    {
        var problem = request.HttpMethod == "POST" ? VerificationProblem(request.Headers, body) : "POST only";
        if (problem != null) return (400, problem);
        var id = request.Headers["webhook-id"]; // the same on every retry and resend
        if (Processed.Contains(id)) return (200, "duplicate");
        try { Handle(Encoding.UTF8.GetString(body)); }
        catch (Exception) { return (500, "handling failed"); } // not marked processed: we retry
        Processed.Add(id); // only once handled
        return (200, "ok");
    }

    // Returns why the delivery is not genuine, or null when it is.
    static string VerificationProblem(NameValueCollection headers, byte[] body)
    {
        string id = headers["webhook-id"], timestamp = headers["webhook-timestamp"];
        string signatures = headers["webhook-signature"];
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signatures))
            return "missing webhook-id, webhook-timestamp or webhook-signature header";
        if (timestamp.Length > 12 || !long.TryParse(timestamp, out var seconds)
            || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) > ToleranceSeconds)
            return "webhook-timestamp is more than 5 minutes from now";
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed, prefix.Length);
        byte[] expected;
        using (var hmac = new HMACSHA256(Secret))
            expected = Encoding.ASCII.GetBytes(Convert.ToBase64String(hmac.ComputeHash(signed)));
        foreach (var signature in signatures.Split(' ')) // two during a secret rotation: either may match
        {
            var parts = signature.Split(new[] { ',' }, 2);
            // Constant-time comparison (in Mono 6.8 and .NET Core 2.1+).
            if (parts.Length == 2 && parts[0] == "v1"
                && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(parts[1]), expected))
                return null;
        }
        return "no signature matches";
    }

    static void Handle(string json) => Console.WriteLine("received " + json); // your work here
}
