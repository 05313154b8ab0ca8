import Foundation
import KVMSnapCore
import Testing

/// A notify URL carries no secret: the names that look like one, wherever they stand in the URL.
struct URLSecretsTests {
    func secret(_ url: String) -> String? {
        let components = URLComponents(string: url)!
        return URLSecrets.firstSecret(path: components.percentEncodedPath, query: components.percentEncodedQuery, fragment: components.percentEncodedFragment)
            .map { "\($0.place):\($0.name)" }
    }

    @Test func secretLookingNamesAreFoundInQueryFragmentAndPath() {
        let found: [(String, String)] = [
            ("http://h/x?token=abc", "query:token"), ("http://h/x?access_token=abc", "query:access_token"),
            ("http://h/x?auth_token=abc", "query:auth_token"), ("http://h/x?X-Token=abc", "query:X-Token"),
            ("http://h/x?mytokenvalue=abc", "query:mytokenvalue"), ("http://h/x?sig=abc", "query:sig"),
            ("http://h/x?Signature=abc", "query:Signature"), ("http://h/x?a=1;token=abc", "query:token"),
            ("http://h/x?a=1&KEY=abc", "query:KEY"), ("http://h/x?apikey=abc", "query:apikey"), ("http://h/x?api_key=abc", "query:api_key"),
            ("http://h/x?access_key=abc", "query:access_key"), ("http://h/x?secret=abc", "query:secret"),
            ("http://h/x?password=abc", "query:password"), ("http://h/x?passwd=abc", "query:passwd"), ("http://h/x?auth=abc", "query:auth"),
            ("http://h/x?%74oken=abc", "query:token"), ("http://h/x?a=1%26token%3Dabc", "query:token"),
            ("http://h/x#token=abc", "fragment:token"), ("http://h/x#a=1&sig=abc", "fragment:sig"),
            ("http://h/hooks/token=abc", "path:token"), ("http://h/hooks/a;key=abc/x", "path:key"), ("http://h/hooks/%74oken=abc", "path:token"),
        ]
        for (url, expected) in found { #expect(secret(url) == expected, "\(url)") }
    }

    @Test func ordinaryURLsPass() {
        for url in [
            "http://h/", "https://ntfy.sh/my-topic", "http://h/hooks/keys/abc?priority=5&title=x", "http://h/x?monkey=1&author=me",
            "http://h/auth/hook", "http://h/x?format=json#top", "http://h/message?priority=high",
        ] {
            #expect(secret(url) == nil, "\(url)")
        }
    }
}
