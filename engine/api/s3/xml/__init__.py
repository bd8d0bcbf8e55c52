"""S3's XML wire documents, to and from the gRPC messages the object service speaks.

One module per family of documents (listing, multipart, deletes, tagging, lifecycle, acl,
bucket_config, cors, website, attributes, restore) over the shared ``base``: parse
functions take a request body (bytes) and return the gRPC request or a typed value,
``*_result`` functions return the response body. Pure: no I/O, no service calls.
"""
