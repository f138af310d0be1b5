"""Collection settings shared by the doctests and the tests."""

# Old module names kept for imports only (each is the moved module itself):
# collecting their doctests would run the moved modules' doctests twice.
collect_ignore = [
    f"pyunlocbox_gae/{name}.py"
    for name in (
        "autoencoder",
        "checkpoint",
        "distributed",
        "walks",
        "embedding",
        "planetoid",
        "config",
        "plotting",
    )
]
