// Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/. Run once when the
// formats change: make_seeds FUZZ_DIR. Seeds are small and committed.
#include <tokenauth/tokenauth.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

void write(const std::filesystem::path& dir, const std::string& name, const std::string& content) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary) << content;
}

tokenauth::access_token fixed_token(int i) {
    tokenauth::access_token t;
    for (int b = 0; b < 16; ++b) t.id.bytes[b] = static_cast<std::uint8_t>(i * 16 + b);
    for (int b = 0; b < 32; ++b) t.secret[b] = static_cast<std::uint8_t>(0x5A ^ (i * 32 + b));
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    const std::filesystem::path root = std::filesystem::path(argv[1]) / "corpus";
    tokenauth::ensure_sodium_init();

    const std::string good = tokenauth::encode_access_token(fixed_token(0));
    std::string pad_bits = good;
    pad_bits[80] = 'B';
    std::vector<std::string> access = {good, tokenauth::encode_access_token(fixed_token(1)), good.substr(0, 81),
                                       good + "=", "Access-v1:" + good.substr(10), good.substr(0, 80) + "==", pad_bits,
                                       "access-v1:", ""};
    for (std::size_t i = 0; i < access.size(); ++i) write(root / "access_token", "seed" + std::to_string(i), access[i]);

    tokenauth::session_key other;
    for (auto& b : other.bytes) b = 7;
    const std::string session = tokenauth::mint_session_token(other, {500, 1, 0, tokenauth::default_session_lifetime},
                                                                tokenauth::session_binding{});
    for (const auto& [name, s] : std::vector<std::pair<std::string, std::string>>{
             {"minted_other_key", session}, {"truncated", session.substr(0, 60)}, {"prefix", "session-v1:"}})
        write(root / "session", name, s);

    std::vector<std::string> headers;
    for (int i = 0; i < 4; ++i) headers.push_back("Bearer " + tokenauth::encode_access_token(fixed_token(i)));
    headers.push_back("bearer " + tokenauth::encode_access_token(fixed_token(0)));
    headers.push_back("Basic dXNlcjpwYXNz");
    headers.push_back("Bearer " + session);
    headers.push_back("Bearer  " + good);
    for (std::size_t i = 0; i < headers.size(); ++i) write(root / "validator", "seed" + std::to_string(i), headers[i]);

    const std::vector<std::string> b64 = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYmFy", "Zh==", "Zm9=", "Zg=a", "Zm-_", good.substr(10)};
    for (std::size_t i = 0; i < b64.size(); ++i) write(root / "base64", "seed" + std::to_string(i), b64[i]);

    const std::vector<std::string> times = {"2023-01-01T00:00:00Z", "2022-10-27T15:18:09.725513764Z",
                                            "2023-01-01T01:00:00+01:00", "1677-09-21T00:12:43.145224192Z",
                                            "2262-04-11T23:47:16.854775807Z", "Jan 01 2023", "01/01/2023 00:00",
                                            "1/20/2024", "2024-01-20 12:00", "Feb 30 2023", "2023-01-01T24:00:00Z"};
    for (std::size_t i = 0; i < times.size(); ++i) write(root / "time", "seed" + std::to_string(i), times[i]);

    const std::vector<std::string> ids = {"jane", "local:jane", "ad:jane", "AD\\jane", "auth_id:1234", "SID:S-1-1-0",
                                          "uid:1000", "gid:1000", "world:Everyone", "ldap_user:x", "ldap_group:y",
                                          "S-1-5-21-1-2-3-500", "CN=x:y", "name:a:b",
                                          R"({"domain":"LOCAL","auth_id":"500","uid":null,"gid":null,"sid":"S-1-5-21-1-2-3-500","name":"admin"})",
                                          R"({"uid":"1000","gid":7})"};
    for (std::size_t i = 0; i < ids.size(); ++i) write(root / "identity", "seed" + std::to_string(i), ids[i]);

    const std::vector<std::string> bodies = {
        R"({"user":{"name":"svc"},"expiration_time":"2099-01-01T00:00:00Z"})",
        R"({"user":{"auth_id":"1001"},"expiration_time":null})",
        R"({"expiration_time":"2001-01-01T00:00:00+00:00","enabled":false})",
        R"({"username":"admin","password":"x"})",
        R"({"old_password":"a","new_password":"b"})",
        R"({"new_password":"b"})",
        R"({"id":"1001","name":"svc","primary_group":"0","uid":"","home_directory":null,"password":null})",
        R"({"id":"1002","name":"ops","gid":""})",
        R"({"member_id":"1001"})",
        R"({"name":"R","description":"d","privileges":["PRIVILEGE_ACCESS_TOKENS_READ"]})",
        R"({"id":{"name":"svc"}})",
        R"([1,2,{"a":[]}])",
        "{\"user\":",
    };
    for (std::size_t i = 0; i < bodies.size(); ++i) write(root / "request_body", "seed" + std::to_string(i), bodies[i]);

    const std::vector<std::string> privs = {"PRIVILEGE_ACCESS_TOKENS_READ", "PRIVILEGE_DEBUG",
                                            "# role\nPRIVILEGE_AD_READ\n  PRIVILEGE_AD_USE # x\r\n\n",
                                            "PRIVILEGE_NOPE\n", "privilege_ad_read"};
    for (std::size_t i = 0; i < privs.size(); ++i) write(root / "privilege", "seed" + std::to_string(i), privs[i]);
    return 0;
}
