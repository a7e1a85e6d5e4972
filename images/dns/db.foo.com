;
; Domain database for foo.com
;
; As the article gives it. Note there is no $TTL line: BIND then uses the
; SOA minimum (86400 s = one day) as every record's TTL and says so in its
; log ("no TTL specified; using SOA MINTTL instead"). Resolvers may cache a
; www answer for a whole day: the root of the uneven split (F20).
;
foo.com. IN SOA ns1.foo.com. hostmaster.foo.com. (
	2006032801 ; serial
	10800 ; refresh
	3600 ; retry
	86400 ; expire
	86400 ; default_ttl
	)
;
; Name servers
;
foo.com. IN NS ns1.foo.com.
foo.com. IN NS ns2.foo.com.
;
; Not in the article's snippet: name servers inside the zone need address
; records, or BIND refuses to load it.
;
ns1 IN A 10.1.1.2
ns2 IN A 10.1.1.3
;
; Web servers
; (private IPs shown, but public IPs are required)
;
www IN A 10.1.1.11
www IN A 10.1.1.12
www IN A 10.1.1.13
