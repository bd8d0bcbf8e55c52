"""The static website endpoint (``engine serve --website-listen``): a bucket's objects
served to anonymous browsers as S3's ``BUCKET.s3-website-REGION.amazonaws.com`` serves
them, from the bucket's website configuration (PutBucketWebsite).

Which bucket a request is for comes from its Host (rules.py); the answer is an object,
a redirect or S3's HTML error page (pages.py), chosen by handler.py, which reads objects
as the anonymous principal, so a site shows exactly what the bucket's policy and ACLs
let everyone read while Block Public Access permits; server.py runs the listener.
"""
