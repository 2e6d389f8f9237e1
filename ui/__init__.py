"""The only Streamlit-aware code besides the pages: cached engine wrappers, controls, charts."""
