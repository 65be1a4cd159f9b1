"""A fake WeChat Official Account API (公众号接口) for tests and the demo.

`fakewechat.server` has the app factory and `run_in_thread`; it is not imported here so that
`python -m fakewechat.server` runs cleanly.
"""
