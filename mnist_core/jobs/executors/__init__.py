"""Where a job's training loop runs: the interface and threads (`base`), warm child processes
(`process`), Ray actors (`ray`), the worker side of both (`remote`), and the choice among
them (`choose`).
"""
