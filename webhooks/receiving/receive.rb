# Receive our webhooks and verify them (Standard Webhooks), with Ruby's standard library and WEBrick.
# Run: WEBHOOK_SECRET=whsec_... PORT=8000 ruby receive.rb
# (Ruby 3.0+ no longer bundles WEBrick: `gem install webrick`, or Debian's ruby-webrick.
# In Rails or Sinatra, the same checks apply to request.raw_post / request.body.read.)
require "base64"
require "json"
require "openssl"
require "set"
require "webrick"

SECRET = Base64.strict_decode64(ENV.fetch("WEBHOOK_SECRET").delete_prefix("whsec_"))
TOLERANCE_SECONDS = 5 * 60
PROCESSED = Set.new # real code stores processed ids durably, e.g. in a unique column
LOCK = Mutex.new # WEBrick serves requests on several threads

# Return why the delivery is not genuine, or nil when it is. body: the raw bytes.
def verification_problem(request, body)
  id, timestamp = request["webhook-id"], request["webhook-timestamp"]
  signatures = request["webhook-signature"]
  if [id, timestamp, signatures].any? { |value| value.nil? || value.empty? }
    return "missing webhook-id, webhook-timestamp or webhook-signature header"
  end
  unless timestamp.match?(/\A\d+\z/) && (Time.now.to_i - timestamp.to_i).abs <= TOLERANCE_SECONDS
    return "webhook-timestamp is more than 5 minutes from now"
  end
  signed = "#{id}.#{timestamp}.".b + body.b
  expected = Base64.strict_encode64(OpenSSL::HMAC.digest("SHA256", SECRET, signed))
  # Two signatures during a secret rotation: either may match.
  matches = signatures.split(" ").any? do |signature|
    version, value = signature.split(",", 2)
    version == "v1" && OpenSSL.secure_compare(value.to_s, expected)
  end
  matches ? nil : "no signature matches"
end

def handle(event)
  puts "received #{event["type"]} #{event["id"]}" # your work here
end

server = WEBrick::HTTPServer.new(BindAddress: "127.0.0.1", Port: Integer(ENV.fetch("PORT", "8000")),
                                 Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN), AccessLog: [])
server.mount_proc "/webhooks" do |request, response|
  response.content_type = "text/plain"
  body = request.body || ""
  problem = request.request_method == "POST" ? verification_problem(request, body) : "POST only"
  if problem
    response.status, response.body = 400, problem
    next
  end
  id = request["webhook-id"] # the same on every retry and resend
  LOCK.synchronize do
    if PROCESSED.include?(id)
      response.body = "duplicate"
    else
      handle(JSON.parse(body)) # raises on failure: WEBrick answers 500 and we retry
      PROCESSED.add(id) # only once handled
      response.body = "ok"
    end
  end
end
trap("INT") { server.shutdown }
trap("TERM") { server.shutdown }
server.start
